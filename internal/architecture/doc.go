// Package architecture holds no code: its test checks the import rules that
// keep Heimdall's shape visible.
//
//   - commands (write side) and projections (read side) meet only through
//     events: neither imports the other, nor sync.
//   - commands, projections, events and sync use no adapter directly: no
//     Kafka, pgx or Echo, and none of internal/kafka, internal/graphstore,
//     internal/httpapi. They declare the small interfaces they need and
//     cmd/ wires adapters into them.
//   - events depends on nothing of Heimdall but the schema files.
//   - nothing imports cmd/.
package architecture
