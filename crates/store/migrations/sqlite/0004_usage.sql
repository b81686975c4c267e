-- Product usage: Segment events as received, what deduplicates them, who they belong to, and the
-- daily rollups kept as they arrive.
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    event TEXT,
    user_id TEXT,
    anonymous_id TEXT,
    group_id TEXT,
    -- No foreign key: checking one per event costs ingestion; a trigger below deletes an
    -- account's events with it.
    account_id BIGINT,
    -- Instants in microseconds since 1970 UTC.
    timestamp BIGINT NOT NULL,
    original_timestamp BIGINT,
    sent_at BIGINT,
    received_at BIGINT NOT NULL,
    properties TEXT,
    context TEXT
);
CREATE INDEX events_account ON events(account_id, timestamp);
CREATE INDEX events_unattributed_user ON events(user_id) WHERE account_id IS NULL;
CREATE INDEX events_unattributed_anonymous ON events(anonymous_id) WHERE user_id IS NULL;
-- Every messageId seen, for deduplication (kept at least 7 days).
CREATE TABLE event_ids (
    message_id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL
) WITHOUT ROWID;
-- A Segment user: its latest account (from group calls), traits (from identify), activity.
CREATE TABLE usage_users (
    user_id TEXT PRIMARY KEY,
    account_id BIGINT REFERENCES accounts(id) ON DELETE SET NULL,
    traits TEXT,
    first_seen BIGINT,
    last_seen BIGINT
);
CREATE INDEX usage_users_account ON usage_users(account_id, last_seen);
-- An anonymous id an identify call linked to a user.
CREATE TABLE usage_anonymous (
    anonymous_id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL
);
-- Per account × day × event name: how many events, from how many users.
CREATE TABLE usage_daily (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    event TEXT NOT NULL,
    count BIGINT NOT NULL,
    users BIGINT NOT NULL,
    PRIMARY KEY (account_id, day, event)
);
-- Who was active: the distinct users behind usage_daily.users and active-user counts.
CREATE TABLE usage_user_days (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    event TEXT NOT NULL,
    user_key TEXT NOT NULL,
    PRIMARY KEY (account_id, day, event, user_key)
);
-- The plan → features catalogue: which event names count as which feature, per plan.
CREATE TABLE plan_features (
    plan TEXT NOT NULL,
    feature TEXT NOT NULL,
    events TEXT NOT NULL,
    PRIMARY KEY (plan, feature)
);
CREATE TRIGGER accounts_delete_events AFTER DELETE ON accounts
    BEGIN DELETE FROM events WHERE account_id = old.id; END;
