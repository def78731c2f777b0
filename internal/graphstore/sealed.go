package graphstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/heimdallhub/heimdall/projections/graph"
)

// SealedField is what the decrypt path reads of one field of a record.
type SealedField struct {
	// Exists says a record with the key exists, whether or not the reader
	// may see it: for the audit trail only, never for an answer.
	Exists bool
	// Visible says the reader may see the record (entityVisibleClause,
	// relationVisibleClause).
	Visible bool
	// Values are the field's stored values when Visible: an entity's
	// "value" is its value; "attributes.<name>" the set of that attribute.
	Values []string
}

// SealedField reads the field of the entity or relation key as the reader
// may see it. It is one query whatever the record's state: a record the
// reader may not see returns no values and costs the same as one that does
// not exist.
func (s *Store) SealedField(ctx context.Context, key, field string, vis graph.Visibility) (SealedField, error) {
	attr, _ := strings.CutPrefix(field, "attributes.")
	if attr == field {
		attr = ""
	}
	var out SealedField
	err := s.readActive(ctx, func(tx pgx.Tx, gen graph.Generation) error {
		g := quoteIdent(gen.Graph)
		var values *string
		err := tx.QueryRow(ctx, `SELECT visible, CASE WHEN visible THEN vals::text END FROM (
				SELECT `+entityVisibleClause("e", 2)+` AS visible,
					CASE WHEN $3 = 'value' THEN jsonb_build_array(e.value) WHEN $4 <> '' THEN e.attributes -> $4 END AS vals
				FROM `+g+`.entity_state e WHERE e.key = $1
				UNION ALL
				SELECT `+relationVisibleClause(g, "r", 2)+`, CASE WHEN $4 <> '' THEN r.attributes -> $4 END
				FROM `+g+`.relation_state r WHERE r.key = $1
			) x LIMIT 1`, key, visibleLevels(vis), field, attr).Scan(&out.Visible, &values)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		out.Exists = true
		if values != nil {
			if err := json.Unmarshal([]byte(*values), &out.Values); err != nil {
				return fmt.Errorf("decoding the values: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return SealedField{}, fmt.Errorf("reading %s of %s: %w", field, key, err)
	}
	return out, nil
}
