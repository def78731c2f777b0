-- Graph generations: each is one AGE graph (schema heimdall_<id>) holding a
-- complete copy of the graph read model, with its state, provenance and
-- offset tables inside the graph's own schema (see layout.sql). Exactly one
-- generation is active: the one readers use and the live projector writes.

-- +goose Up
CREATE TABLE heimdall.generations (
    id           serial PRIMARY KEY,
    graph_name   text NOT NULL UNIQUE,
    state        text NOT NULL CHECK (state IN ('building', 'active', 'retired')),
    layout       integer NOT NULL,
    age_version  text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    retired_at   timestamptz,
    CHECK (state <> 'active' OR activated_at IS NOT NULL)
);

CREATE UNIQUE INDEX generations_one_active ON heimdall.generations ((true)) WHERE state = 'active';

COMMENT ON TABLE heimdall.generations IS
    'Graph read-model generations; graph_name is the AGE graph (and schema) of each. Exactly one is active.';
COMMENT ON COLUMN heimdall.generations.layout IS
    'Version of the per-generation table layout the generation was created with.';
COMMENT ON COLUMN heimdall.generations.age_version IS
    'Apache AGE extension version at creation.';

-- +goose Down
DROP TABLE heimdall.generations;
