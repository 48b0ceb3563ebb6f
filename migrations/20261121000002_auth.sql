-- Credentials live outside the event stream so that no password hash is ever published.
CREATE TABLE credentials (
    user_id       uuid        PRIMARY KEY,
    email         text        NOT NULL UNIQUE,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Refresh tokens are single-use: refreshing marks the old one used.
CREATE TABLE refresh_tokens (
    jti        uuid        PRIMARY KEY,
    user_id    uuid        NOT NULL,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);
