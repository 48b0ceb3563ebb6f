-- projections::users: whom each user blocks.
CREATE TABLE user_blocks (
    user_id    uuid        NOT NULL,
    blocked_id uuid        NOT NULL,
    blocked_at timestamptz NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);

-- projections::notifications: its own copy, so a blocked sender's messages are not pushed.
CREATE TABLE notifier_blocks (
    user_id    uuid NOT NULL,
    blocked_id uuid NOT NULL,
    PRIMARY KEY (user_id, blocked_id)
);

-- projections::couples: withdrawn codes.
ALTER TABLE couple_invites ADD COLUMN withdrawn_at timestamptz;

-- Failed attempts (wrong couple codes), counted over a sliding window and shared by every API
-- process. Not events: they record no fact of the domain, only who is guessing.
CREATE TABLE failed_attempts (
    id  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key text        NOT NULL,
    at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX failed_attempts_key_at ON failed_attempts (key, at);
-- Old attempts are forgotten across all keys, not only the key that tries again.
CREATE INDEX failed_attempts_at ON failed_attempts (at);
