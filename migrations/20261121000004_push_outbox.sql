-- Live pushes a notifier batch produced, written in the same transaction as the batch and deleted
-- once they are on NATS: a crash between commit and publish re-sends them instead of losing them.
CREATE TABLE push_outbox (
    id         bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pushes     jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
