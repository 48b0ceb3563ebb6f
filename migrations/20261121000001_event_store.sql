-- The event store: postgres-es's `events` and `snapshots` tables, plus what Moim adds to each event:
-- a stable id, the time it was recorded, and a global position (tx_id, position) that can be read
-- in commit order without skipping a transaction that commits late (see docs/architecture.md).
CREATE TABLE events (
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    sequence       bigint      NOT NULL CHECK (sequence > 0),
    event_type     text        NOT NULL,
    event_version  text        NOT NULL,
    payload        jsonb       NOT NULL,
    metadata       jsonb       NOT NULL DEFAULT '{}',
    event_id       uuid        NOT NULL DEFAULT gen_random_uuid(),
    recorded_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- The writing transaction's id. The relay only reads below the oldest transaction still in
    -- flight (pg_snapshot_xmin), so a row can never appear behind the relay's checkpoint.
    tx_id          xid8        NOT NULL DEFAULT pg_current_xact_id(),
    -- Orders the events of one transaction.
    position       bigint      GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence)
);
CREATE UNIQUE INDEX events_event_id ON events (event_id);
CREATE UNIQUE INDEX events_global_order ON events (tx_id, position);

CREATE TABLE snapshots (
    aggregate_type   text        NOT NULL,
    aggregate_id     text        NOT NULL,
    last_sequence    bigint      NOT NULL,
    current_snapshot bigint      NOT NULL,
    payload          jsonb       NOT NULL,
    timestamp        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (aggregate_type, aggregate_id)
);

-- Wakes the relay when events commit (NOTIFY is delivered at commit, never before).
CREATE FUNCTION moim_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('moim_events', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER events_notify AFTER INSERT ON events
    FOR EACH STATEMENT EXECUTE FUNCTION moim_events_notify();

-- How far the relay has published: the global position and the JetStream sequence it got.
CREATE TABLE relay_checkpoints (
    name       text        PRIMARY KEY,
    tx_id      bigint      NOT NULL,
    position   bigint      NOT NULL,
    stream_seq bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- How far each read model has applied the stream; written in the same transaction as its rows.
CREATE TABLE projection_checkpoints (
    name       text        PRIMARY KEY,
    tx_id      bigint      NOT NULL,
    position   bigint      NOT NULL,
    stream_seq bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
