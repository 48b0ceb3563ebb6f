-- Events a read model could not apply (unreadable payload, a value the view's tables refuse).
-- The view records them here and goes on, rather than stalling every later event behind one.
CREATE TABLE projection_dead_letters (
    view       text        NOT NULL,
    stream_seq bigint      NOT NULL,
    event_id   uuid,
    event_type text,
    error      text        NOT NULL,
    failed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (view, stream_seq)
);
