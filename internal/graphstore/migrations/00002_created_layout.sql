-- The layout each generation was created with; layout is the one it has
-- now, after in-place upgrades. A generation created before layout 6 keeps
-- no contributions for what it held before its upgrade, so its retractions
-- stay approximate until it is rebuilt (see contributionsLayout).

-- +goose Up
ALTER TABLE heimdall.generations ADD COLUMN created_layout integer NOT NULL DEFAULT 0;
UPDATE heimdall.generations SET created_layout = layout;

COMMENT ON COLUMN heimdall.generations.created_layout IS
    'Version of the per-generation table layout the generation was created with (layout is the current one).';

-- +goose Down
ALTER TABLE heimdall.generations DROP COLUMN created_layout;
