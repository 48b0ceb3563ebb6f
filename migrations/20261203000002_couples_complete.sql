-- Couples, complete: the couple itself, its dates, plans, and the reminders due.

-- The user aggregate now keeps its name and birthday: snapshots in the old shape would lack them.
DELETE FROM snapshots WHERE aggregate_type = 'user';

-- projections::users
ALTER TABLE users_view ADD COLUMN birthday date;

-- projections::chat
ALTER TABLE chat_rooms ADD COLUMN archived_at timestamptz;

-- projections::couples
CREATE TABLE couples (
    couple_id        uuid        PRIMARY KEY,
    partner_a        uuid        NOT NULL,
    partner_b        uuid        NOT NULL,
    room_id          uuid        NOT NULL,
    started_on       date        NOT NULL,
    time_zone        text        NOT NULL,
    formed_at        timestamptz NOT NULL,
    reminded_through timestamptz NOT NULL,
    dissolved_at     timestamptz
);

CREATE TABLE couple_anniversaries (
    anniversary_id uuid PRIMARY KEY,
    couple_id      uuid NOT NULL,
    title          text NOT NULL,
    date           date NOT NULL,
    repeats        text NOT NULL
);
CREATE INDEX couple_anniversaries_by_couple ON couple_anniversaries (couple_id);

CREATE TABLE couple_plans (
    plan_id    uuid        PRIMARY KEY,
    couple_id  uuid        NOT NULL,
    title      text        NOT NULL,
    starts_at  timestamptz NOT NULL,
    place      text,
    memo       text,
    created_by uuid        NOT NULL,
    updated_at timestamptz NOT NULL
);
CREATE INDEX couple_plans_by_couple ON couple_plans (couple_id, starts_at, plan_id);

-- Every user's name and birthday, for the anniversaries of whichever couple they join.
CREATE TABLE couple_people (
    user_id      uuid PRIMARY KEY,
    display_name text NOT NULL,
    birthday     date
);

-- Due work of the couples view (api::scheduler claims it): written in the transaction that
-- applies the event that scheduled it.
CREATE TABLE couple_jobs (
    job_key  text        PRIMARY KEY,
    kind     text        NOT NULL,
    target   uuid        NOT NULL,
    due_at   timestamptz NOT NULL,
    payload  jsonb       NOT NULL DEFAULT '{}'
);
CREATE INDEX couple_jobs_due ON couple_jobs (due_at);
