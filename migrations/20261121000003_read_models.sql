-- Read models. Each block belongs to one projection module, which alone writes it.

-- projections::users
CREATE TABLE users_view (
    user_id       uuid        PRIMARY KEY,
    display_name  text        NOT NULL,
    registered_at timestamptz NOT NULL
);

-- projections::chat
CREATE TABLE chat_rooms (
    room_id         uuid        PRIMARY KEY,
    name            text        NOT NULL,
    kind            text        NOT NULL,
    created_by      uuid        NOT NULL,
    created_at      timestamptz NOT NULL,
    last_seq        bigint      NOT NULL DEFAULT 0,
    last_message_at timestamptz
);
CREATE TABLE chat_room_members (
    room_id uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX chat_room_members_user ON chat_room_members (user_id);
CREATE TABLE chat_messages (
    room_id       uuid        NOT NULL,
    seq           bigint      NOT NULL,
    message_id    uuid        NOT NULL UNIQUE,
    sender_id     uuid        NOT NULL,
    client_msg_id uuid        NOT NULL,
    body          text        NOT NULL,
    sent_at       timestamptz NOT NULL,
    PRIMARY KEY (room_id, seq)
);

-- projections::couples
CREATE TABLE couple_invites (
    code        text        PRIMARY KEY,
    inviter_id  uuid        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    redeemed_at timestamptz
);
CREATE INDEX couple_invites_inviter ON couple_invites (inviter_id);
CREATE TABLE couple_members (
    user_id    uuid        PRIMARY KEY,
    couple_id  uuid        NOT NULL,
    partner_id uuid        NOT NULL,
    since      timestamptz NOT NULL
);

-- projections::games
CREATE TABLE games (
    game_id          uuid        PRIMARY KEY,
    title            text        NOT NULL,
    starts_at        timestamptz NOT NULL,
    max_participants integer     NOT NULL,
    host_id          uuid        NOT NULL,
    created_at       timestamptz NOT NULL
);
CREATE TABLE game_players (
    game_id   uuid   NOT NULL,
    user_id   uuid   NOT NULL,
    status    text   NOT NULL CHECK (status IN ('joined', 'waitlisted')),
    -- The game stream's sequence of the event that put the player where they are: orders both lists.
    placed_at bigint NOT NULL,
    PRIMARY KEY (game_id, user_id)
);
CREATE INDEX game_players_order ON game_players (game_id, status, placed_at);

-- projections::notifications
CREATE TABLE notifications (
    notification_id uuid        PRIMARY KEY,
    user_id         uuid        NOT NULL,
    kind            text        NOT NULL,
    data            jsonb       NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX notifications_feed ON notifications (user_id, created_at DESC, notification_id);
-- The notifier's own copy of room membership, so it never depends on another view's progress.
CREATE TABLE notifier_room_members (
    room_id uuid NOT NULL,
    user_id uuid NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
