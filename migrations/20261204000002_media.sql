-- Media uploads (issue 13). The bytes are in the JetStream object store; these tables are what
-- the views make of the `media` aggregate's events.

-- projections::chat
ALTER TABLE chat_messages ADD COLUMN media_id uuid;
ALTER TABLE chat_messages DROP CONSTRAINT chat_messages_kind_check;
ALTER TABLE chat_messages ADD CONSTRAINT chat_messages_kind_check
    CHECK (kind IN ('text', 'image', 'system'));

-- projections::media
-- Where each live upload is used: `item` names the message (`msg:<room>:<seq>`), post
-- (`post:<id>`) or profile (`avatar:<user>`) so that deleting it finds its media.
CREATE TABLE media_uses (
    media_id    uuid        NOT NULL,
    item        text        NOT NULL,
    what        jsonb       NOT NULL,
    attached_at timestamptz NOT NULL,
    PRIMARY KEY (media_id, item)
);
CREATE INDEX media_uses_item ON media_uses (item);
-- Due work the scheduler fires: an unused upload's expiry, a use that ended.
CREATE TABLE media_jobs (
    job_key  text        PRIMARY KEY,
    kind     text        NOT NULL,
    target   uuid        NOT NULL,
    due_at   timestamptz NOT NULL,
    payload  jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX media_jobs_due ON media_jobs (due_at);
CREATE INDEX media_jobs_target ON media_jobs (target);
