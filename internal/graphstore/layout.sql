-- Per-generation tables, created in the schema of the generation's AGE graph
-- (@graph@ is replaced by its quoted name) right after create_graph, so that
-- drop_graph(name, true) drops a retired generation whole. Layout version 9
-- (version 1 lacked the endpoint indexes, version 2 the similarity table,
-- version 3 the retractions, version 4 the enrichment view, version 5 the
-- classification clocks, contributions and pending reclassifications,
-- version 6 the reclassifications' vectors and the conflicts, version 7 the
-- log of every reclassification, version 8 the retractions' reach;
-- upgradeLayout adds them in place).

-- Merged state of each vertex; the vertex's properties are derived from it.
-- An entity known only as a relation endpoint has no times, classification,
-- sources, vector or attributes.
CREATE TABLE @graph@.entity_state (
    key            text COLLATE "C" PRIMARY KEY,
    label          text NOT NULL,            -- vertex label, fixed at creation
    graphid        ag_catalog.graphid NOT NULL,
    kind           text NOT NULL,
    value          text NOT NULL,
    first_seen     timestamptz,
    last_seen      timestamptz,
    sources        jsonb NOT NULL,           -- sorted array of source names
    vector         jsonb NOT NULL,           -- version vector: {"peer": counter}
    attributes     jsonb NOT NULL,           -- {"name": [sorted values]}
    classification text,                     -- effective level, derived from the two below
    reclassification jsonb,                  -- winning classification.changed: {"level","hlc","peer","event_id","vector"}; NULL if none
    levels         jsonb NOT NULL DEFAULT '{}', -- {"LEVEL": greatest HLC observed with it}
    CHECK ((first_seen IS NULL) = (last_seen IS NULL) AND (first_seen IS NULL) = (classification IS NULL))
) WITH (fillfactor = 80); -- room for HOT updates: states are rewritten in place often

-- Merged state of each edge.
CREATE TABLE @graph@.relation_state (
    key            text COLLATE "C" PRIMARY KEY,
    label          text NOT NULL,            -- edge label (the relation type), fixed at creation
    graphid        ag_catalog.graphid NOT NULL,
    source_key     text COLLATE "C" NOT NULL,
    target_key     text COLLATE "C" NOT NULL,
    first_seen     timestamptz NOT NULL,
    last_seen      timestamptz NOT NULL,
    sources        jsonb NOT NULL,
    vector         jsonb NOT NULL,
    attributes     jsonb NOT NULL,
    classification text NOT NULL,
    reclassification jsonb,
    levels         jsonb NOT NULL DEFAULT '{}'
) WITH (fillfactor = 80);

-- Where each event about a record came from; one row per (record, event).
CREATE TABLE @graph@.provenance (
    record_key  text COLLATE "C" NOT NULL,
    event_id    uuid NOT NULL,
    event_type  text NOT NULL,
    source      text NOT NULL,
    format      text NOT NULL,
    file        text NOT NULL,
    line        bigint NOT NULL,
    byte_offset bigint NOT NULL,
    batch_id    text NOT NULL,
    actor_sub   text NOT NULL,
    actor_iss   text NOT NULL,
    request_id  text NOT NULL,
    origin_peer text NOT NULL,
    recorded_at timestamptz NOT NULL,
    observed_at timestamptz NOT NULL,
    PRIMARY KEY (record_key, event_id)
);

-- Next offset to consume per partition, written in the same transaction as
-- the graph changes of the records before it.
CREATE TABLE @graph@.offsets (
    topic       text COLLATE "C" NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);

-- Records the projector skipped as unusable. reason never holds values.
CREATE TABLE @graph@.projection_errors (
    topic       text COLLATE "C" NOT NULL,
    partition   integer NOT NULL,
    "offset"    bigint NOT NULL,
    reason      text NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);

-- Traversals (neighbours, paths, visible edge counts) start from either end.
CREATE INDEX IF NOT EXISTS relation_state_source ON @graph@.relation_state (source_key);
CREATE INDEX IF NOT EXISTS relation_state_target ON @graph@.relation_state (target_key);

-- Look-alike search: one embedding per domain or URL vertex whose value is
-- not personal (package embedding; model names the scheme, so vectors of an
-- older scheme are ignored until a rebuild). Cosine distance, HNSW.
CREATE TABLE IF NOT EXISTS @graph@.similarity (
    key       text COLLATE "C" PRIMARY KEY,
    model     text NOT NULL,
    embedding vector(256) NOT NULL
);
CREATE INDEX IF NOT EXISTS similarity_hnsw ON @graph@.similarity USING hnsw (embedding vector_cosine_ops);

-- Retracted batches and sources: their events are ignored from now on.
CREATE TABLE IF NOT EXISTS @graph@.retractions (
    scope        text NOT NULL,   -- batch or source
    id           text NOT NULL,
    retracted_at timestamptz NOT NULL,
    -- the widest reach of its retractions (graph.Retraction.Reach: the
    -- highest classification rank they take back; 2147483647, every level,
    -- for retractions without a clearance)
    reach        integer NOT NULL DEFAULT 2147483647,
    PRIMARY KEY (scope, id)
);
CREATE INDEX IF NOT EXISTS provenance_batch ON @graph@.provenance (batch_id);
CREATE INDEX IF NOT EXISTS provenance_source ON @graph@.provenance (source);

-- The enrichment view: the latest result of each provider about each record
-- (the later completed_at wins, then the greater event id). attributes is
-- [{"name", "value"}] without the provider prefix, relations the
-- relationship keys the result added; embedding is set by embedding
-- providers (any dimension: exact search only).
CREATE TABLE IF NOT EXISTS @graph@.enrichments (
    record_key     text COLLATE "C" NOT NULL,
    provider       text COLLATE "C" NOT NULL,
    provider_type  text NOT NULL,
    job_id         text NOT NULL,
    event_id       uuid NOT NULL,
    outcome        text NOT NULL,
    error_class    text NOT NULL,
    error_reason   text NOT NULL,
    data_version   text NOT NULL,
    classification text NOT NULL,
    attempts       integer NOT NULL,
    requested_at   timestamptz NOT NULL,
    completed_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    attributes     jsonb NOT NULL,
    relations      jsonb NOT NULL,
    embedding      vector,
    PRIMARY KEY (record_key, provider)
);

-- What each event added to each record (graph.Contribution; delta is its
-- state delta or enrichment result), so that a retraction recomputes a
-- record from what remains, exactly as if the retracted events had never
-- been applied.
CREATE TABLE IF NOT EXISTS @graph@.contributions (
    record_key text COLLATE "C" NOT NULL,
    type       text COLLATE "C" NOT NULL,   -- entity, relation or enrichment
    event_id   uuid NOT NULL,
    batch_id   text NOT NULL,
    source     text NOT NULL,
    delta      jsonb NOT NULL,
    PRIMARY KEY (record_key, type, event_id)
);
CREATE INDEX IF NOT EXISTS contributions_batch ON @graph@.contributions (batch_id);
CREATE INDEX IF NOT EXISTS contributions_source ON @graph@.contributions (source);

-- Winning reclassification of records that do not exist (yet, or any
-- more): merged into the record when it appears.
CREATE TABLE IF NOT EXISTS @graph@.pending_reclassifications (
    type     text COLLATE "C" NOT NULL,     -- entity or relation
    key      text COLLATE "C" NOT NULL,
    level    text COLLATE "C" NOT NULL,
    hlc      bigint NOT NULL,
    peer     text COLLATE "C" NOT NULL,
    event_id uuid NOT NULL,
    vector   jsonb NOT NULL DEFAULT '{}',   -- the event's version vector
    PRIMARY KEY (type, key)
);

-- Conflicting reclassifications this peer detected (graph.Conflict): two
-- classification.changed events of one record with concurrent version
-- vectors, and how the rule resolved them: every such pair of the changes
-- in reclassifications, whatever order they arrived in. An audit log, not
-- part of the graph (not in the digest). audited_at is set once the
-- conflict's audit event is in the log (the outbox of
-- graph.ConflictAuditor).
CREATE TABLE IF NOT EXISTS @graph@.reclassification_conflicts (
    record_key   text COLLATE "C" NOT NULL,
    winner_event uuid NOT NULL,
    loser_event  uuid NOT NULL,
    record_type  text NOT NULL,             -- entity or relation
    winner_peer  text NOT NULL,
    loser_peer   text NOT NULL,
    winner_hlc   bigint NOT NULL,
    loser_hlc    bigint NOT NULL,
    winner_level text NOT NULL,
    loser_level  text NOT NULL,
    rule         text NOT NULL,             -- lww-hlc
    detected_at  timestamptz NOT NULL DEFAULT now(),
    audited_at   timestamptz,
    PRIMARY KEY (record_key, winner_event, loser_event)
);
CREATE INDEX IF NOT EXISTS reclassification_conflicts_unaudited
    ON @graph@.reclassification_conflicts (detected_at) WHERE audited_at IS NULL;

-- Every classification.changed event of every record (graph.Reclassified),
-- kept so that a new change is compared with all earlier ones of its record
-- (graph.NewConflicts): the conflicts recorded are then the same whatever
-- order the changes arrived in.
CREATE TABLE IF NOT EXISTS @graph@.reclassifications (
    record_type text COLLATE "C" NOT NULL,  -- entity or relation
    record_key  text COLLATE "C" NOT NULL,
    event_id    uuid NOT NULL,
    level       text COLLATE "C" NOT NULL,
    hlc         bigint NOT NULL,
    peer        text COLLATE "C" NOT NULL,
    vector      jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (record_type, record_key, event_id)
);
