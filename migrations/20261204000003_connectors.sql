-- Outside services (docs/connectors.md).

-- The users view: each user's linked game characters (`GameCharacterLinked`).
CREATE TABLE user_game_characters (
    user_id        uuid        NOT NULL,
    game           text        NOT NULL,
    character_id   text        NOT NULL,
    character_name text        NOT NULL,
    linked_at      timestamptz NOT NULL,
    PRIMARY KEY (user_id, game)
);

-- What a game's API last said about a character: a cache, not a fact — refreshed by the
-- connector, never replayed. `claimed_until` keeps two schedulers off the same refresh.
CREATE TABLE game_character_cache (
    game          text        NOT NULL,
    character_id  text        NOT NULL,
    data          jsonb       NOT NULL,
    fetched_at    timestamptz NOT NULL,
    claimed_until timestamptz,
    PRIMARY KEY (game, character_id)
);
CREATE INDEX game_character_cache_age ON game_character_cache (fetched_at);

-- A club's Naver Band. The access token, when the manager gave one, is what the import runs
-- as; none means the deployment's configured token.
CREATE TABLE band_links (
    club_id      uuid        PRIMARY KEY,
    band_key     text        NOT NULL,
    band_name    text        NOT NULL,
    access_token text,
    connected_by uuid        NOT NULL,
    connected_at timestamptz NOT NULL DEFAULT now()
);

-- A Band import's progress: the page it has finished (`cursor`, Band's `after`) is saved after
-- that page's commands, so a crash repeats at most one page, and the commands' derived ids make
-- the repeat store nothing twice.
CREATE TABLE band_imports (
    job_id            uuid        PRIMARY KEY,
    club_id           uuid        NOT NULL,
    band_key          text        NOT NULL,
    started_by        uuid        NOT NULL,
    status            text        NOT NULL DEFAULT 'queued'
        CHECK (status IN ('queued', 'running', 'waiting_for_rate_limit', 'done', 'failed')),
    phase             text        NOT NULL DEFAULT 'members'
        CHECK (phase IN ('members', 'posts', 'done')),
    cursor            text,
    pages             integer     NOT NULL DEFAULT 0,
    members_added     integer     NOT NULL DEFAULT 0,
    members_unmatched integer     NOT NULL DEFAULT 0,
    posts_added       integer     NOT NULL DEFAULT 0,
    posts_existing    integer     NOT NULL DEFAULT 0,
    attempts          integer     NOT NULL DEFAULT 0,
    retry_at          timestamptz NOT NULL DEFAULT now(),
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    finished_at       timestamptz
);
CREATE UNIQUE INDEX band_imports_one_active ON band_imports (club_id)
    WHERE status IN ('queued', 'running', 'waiting_for_rate_limit');
CREATE INDEX band_imports_due ON band_imports (retry_at)
    WHERE status IN ('queued', 'running', 'waiting_for_rate_limit');
