// Package commands is Heimdall's write side. Each subpackage holds one
// command: it validates input, applies the PII policy, assigns canonical keys
// and appends events to the log. Commands know the events package and the
// small interfaces they declare for the log; never the read side.
package commands
