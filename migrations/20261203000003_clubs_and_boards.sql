-- Clubs, the games' whole life, the community boards, and a feed with read state.

-- The game aggregate now keeps its club, courts, status and scores: snapshots in the old shape
-- would lack them.
DELETE FROM snapshots WHERE aggregate_type = 'game';

-- projections::clubs
CREATE TABLE clubs (
    club_id      uuid        PRIMARY KEY,
    name         text        NOT NULL,
    description  text        NOT NULL,
    join_policy  text        NOT NULL,
    owner_id     uuid        NOT NULL,
    room_id      uuid        NOT NULL,
    member_count integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL
);
CREATE INDEX clubs_by_name ON clubs (lower(name), club_id);

CREATE TABLE club_members (
    club_id   uuid        NOT NULL,
    user_id   uuid        NOT NULL,
    role      text        NOT NULL CHECK (role IN ('owner', 'manager', 'member')),
    joined_at timestamptz NOT NULL,
    PRIMARY KEY (club_id, user_id)
);
CREATE INDEX club_members_by_user ON club_members (user_id);

CREATE TABLE club_requests (
    club_id      uuid        NOT NULL,
    user_id      uuid        NOT NULL,
    requested_at timestamptz NOT NULL,
    PRIMARY KEY (club_id, user_id)
);

-- projections::games
ALTER TABLE games
    ADD COLUMN club_id      uuid,
    ADD COLUMN courts       integer     NOT NULL DEFAULT 1,
    ADD COLUMN status       text        NOT NULL DEFAULT 'scheduled',
    ADD COLUMN started_at   timestamptz,
    ADD COLUMN ended_at     timestamptz,
    ADD COLUMN reason       text,
    ADD COLUMN mvp_user_id  uuid;
CREATE INDEX games_by_club ON games (club_id, starts_at);

CREATE TABLE game_courts (
    game_id uuid    NOT NULL,
    court   integer NOT NULL,
    team    text    NOT NULL CHECK (team IN ('team_a', 'team_b')),
    user_id uuid    NOT NULL,
    winner  text,
    PRIMARY KEY (game_id, user_id)
);

CREATE TABLE game_scores (
    game_id uuid    NOT NULL,
    court   integer NOT NULL,
    set_no  integer NOT NULL,
    team_a  integer NOT NULL,
    team_b  integer NOT NULL,
    version integer NOT NULL,
    PRIMARY KEY (game_id, court, set_no)
);

CREATE TABLE game_stats (
    club_id uuid    NOT NULL,
    user_id uuid    NOT NULL,
    played  integer NOT NULL DEFAULT 0,
    won     integer NOT NULL DEFAULT 0,
    mvp     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (club_id, user_id)
);

CREATE TABLE game_jobs (
    job_key  text        PRIMARY KEY,
    kind     text        NOT NULL,
    target   uuid        NOT NULL,
    due_at   timestamptz NOT NULL,
    payload  jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX game_jobs_due ON game_jobs (due_at);

-- projections::board
CREATE TABLE posts (
    post_id       uuid        PRIMARY KEY,
    board         text        NOT NULL,
    category      text        NOT NULL,
    title         text        NOT NULL,
    body          text        NOT NULL,
    media_ids     uuid[]      NOT NULL DEFAULT '{}',
    author_id     uuid        NOT NULL,
    pinned        boolean     NOT NULL DEFAULT false,
    like_count    integer     NOT NULL DEFAULT 0,
    comment_count integer     NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    edited_at     timestamptz,
    grams         text[] GENERATED ALWAYS AS (moim_bigrams(title || ' ' || body)) STORED
);
CREATE INDEX posts_listing ON posts (board, pinned DESC, created_at DESC, post_id DESC);
CREATE INDEX posts_grams ON posts USING gin (board, grams);

CREATE TABLE post_likes (
    post_id uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (post_id, user_id)
);

CREATE TABLE comments (
    comment_id uuid        PRIMARY KEY,
    post_id    uuid        NOT NULL,
    parent_id  uuid,
    author_id  uuid        NOT NULL,
    body       text,
    -- The ids from the top comment down to this one: ordering by it lists a thread depth-first.
    path       text        NOT NULL,
    depth      integer     NOT NULL,
    created_at timestamptz NOT NULL,
    edited_at  timestamptz,
    deleted    boolean     NOT NULL DEFAULT false
);
CREATE INDEX comments_by_post ON comments (post_id, path);

-- projections::notifications: which kept frames are feed entries (the notifier's table of them,
-- applied to what is kept already), and what the user has read of them.
ALTER TABLE notifications
    ADD COLUMN in_feed boolean NOT NULL DEFAULT false,
    ADD COLUMN read_at timestamptz;
UPDATE notifications SET in_feed = kind IN (
    'couple.matched', 'couple.updated', 'couple.dissolved', 'anniversary.changed',
    'anniversary.upcoming', 'plan.created', 'plan.updated', 'plan.deleted', 'plan.reminder',
    'game.promoted', 'game.cancelled', 'game.starting', 'comment.created', 'comment.replied',
    'comment.mentioned');
CREATE INDEX notifications_in_feed ON notifications (user_id, at_tx DESC, at_pos DESC)
    WHERE in_feed;
CREATE INDEX notifications_unread ON notifications (user_id) WHERE in_feed AND read_at IS NULL;
