-- Sessions are aggregates now (refresh-token families in the event store): the old table of
-- single refresh tokens goes.
DROP TABLE refresh_tokens;

-- projections::users: what a profile shows, and an account's standing.
ALTER TABLE users_view
    ADD COLUMN bio             text,
    ADD COLUMN role            text        NOT NULL DEFAULT 'user',
    ADD COLUMN suspended_until timestamptz,
    ADD COLUMN suspended       boolean     NOT NULL DEFAULT false,
    ADD COLUMN deleted         boolean     NOT NULL DEFAULT false;

-- projections::users: each user's sessions, for their list of devices.
CREATE TABLE user_sessions (
    session_id   uuid        PRIMARY KEY,
    user_id      uuid        NOT NULL,
    generation   bigint      NOT NULL,
    created_at   timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    user_agent   text,
    ip           text,
    ended_at     timestamptz
);
CREATE INDEX user_sessions_live ON user_sessions (user_id, session_id DESC) WHERE ended_at IS NULL;

-- projections::users: every admin action, newest first.
CREATE TABLE admin_audit (
    event_id  uuid        PRIMARY KEY,
    at        timestamptz NOT NULL,
    admin_id  uuid,
    action    text        NOT NULL,
    user_id   uuid        NOT NULL,
    reason    text,
    until     timestamptz
);
CREATE INDEX admin_audit_newest ON admin_audit (at DESC, event_id DESC);

-- Rate limits shared by every API process: one counter per key and fixed window. Unlogged, for
-- a counter is worth no fsync; a crash forgets the current windows, which only forgives.
CREATE UNLOGGED TABLE rate_counters (
    key          text        NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer     NOT NULL,
    PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_counters_window ON rate_counters (window_start);

-- Social logins: who a provider's subject is in Moim, beside the event stream as credentials are,
-- so that one (provider, subject) belongs to one user (written with `IdentityLinked`).
CREATE TABLE identities (
    provider   text        NOT NULL,
    subject    text        NOT NULL,
    user_id    uuid        NOT NULL,
    linked_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, subject)
);
CREATE UNIQUE INDEX identities_user_provider ON identities (user_id, provider);

-- A social login's web flow in progress: its `state`, kept until the callback uses it (once) or
-- it is ten minutes old; shared by every API process, so the callback may reach any of them.
CREATE TABLE oauth_states (
    state         text        PRIMARY KEY,
    provider      text        NOT NULL,
    redirect_uri  text        NOT NULL,
    pkce_verifier text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Each user's key for the personal fields of their events (domain::personal). Deleting an account
-- deletes its key, which leaves those fields unreadable for good: crypto-shredding.
CREATE TABLE user_keys (
    user_id    uuid        PRIMARY KEY,
    key        bytea       NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
