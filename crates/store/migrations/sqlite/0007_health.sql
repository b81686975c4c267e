-- Health scores, segments and lifecycle stages (issue 5).
--
-- Which days each user ('u') was active and each usage name ('e') was used, per account: one bit
-- per day in blocks of 62 days (bit d of block b is day b*62+d since 1970-01-01). A health pass
-- reads a few rows per user instead of every user-day-event row of its windows.
CREATE TABLE usage_bits (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    block BIGINT NOT NULL,
    bits BIGINT NOT NULL,
    PRIMARY KEY (block, account_id, kind, name)
) WITHOUT ROWID;
INSERT INTO usage_bits (account_id, kind, name, block, bits)
SELECT account_id, 'u', user_key, n / 62, SUM(DISTINCT 1 << (n % 62))
FROM (SELECT DISTINCT account_id, user_key, CAST(julianday(day) - 2440587.5 AS INTEGER) AS n FROM usage_user_days)
GROUP BY account_id, user_key, n / 62;
INSERT INTO usage_bits (account_id, kind, name, block, bits)
SELECT account_id, 'e', event, n / 62, SUM(DISTINCT 1 << (n % 62))
FROM (SELECT DISTINCT account_id, event, CAST(julianday(day) - 2440587.5 AS INTEGER) AS n FROM usage_daily)
GROUP BY account_id, event, n / 62;
CREATE INDEX usage_bits_account ON usage_bits(account_id);
-- The last day each user and usage name was active, per account (days since 1970-01-01): a pass
-- of today reads one small row per user instead of their bits (a whole-table scan: faster than
-- an index on last_day that sends every row through a lookup).
CREATE TABLE usage_last (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    last_day BIGINT NOT NULL,
    PRIMARY KEY (account_id, kind, name)
);
INSERT INTO usage_last (account_id, kind, name, last_day)
SELECT account_id, 'u', user_key, CAST(julianday(MAX(day)) - 2440587.5 AS INTEGER) FROM usage_user_days GROUP BY account_id, user_key;
INSERT INTO usage_last (account_id, kind, name, last_day)
SELECT account_id, 'e', event, CAST(julianday(MAX(day)) - 2440587.5 AS INTEGER) FROM usage_daily GROUP BY account_id, event;
-- events("X", 30): one usage name over a window, for every account.
CREATE INDEX usage_daily_event ON usage_daily(event, day);

-- Invoices that were ever overdue (unpaid, or paid after their due date), covering what
-- days_overdue() reads: the few are read without visiting the table.
CREATE INDEX invoices_late ON invoices(account_id, invoice_id, currency, amount, issued_on, due_on, paid_on, status) WHERE due_on IS NOT NULL AND (paid_on IS NULL OR paid_on > due_on);

-- Definitions (created or updated by key from the UI, the API or `keepwell apply`).
CREATE TABLE segments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    filter TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Membership history: an account is a member of a segment from a row with entered = 1 until the
-- next row with entered = 0. The daily pass writes a row only when membership changes.
CREATE TABLE segment_changes (
    segment_id BIGINT NOT NULL REFERENCES segments(id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    entered BIGINT NOT NULL,
    PRIMARY KEY (segment_id, account_id, day)
);
CREATE INDEX segment_changes_day ON segment_changes(segment_id, day);
CREATE TABLE lifecycle_rules (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    stage TEXT NOT NULL,
    condition TEXT NOT NULL,
    priority BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
-- Every stage change, with its cause ('manual', 'rule:KEY', 'created').
CREATE TABLE stage_changes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    at BIGINT NOT NULL,
    from_stage TEXT,
    to_stage TEXT NOT NULL,
    cause TEXT NOT NULL,
    actor TEXT NOT NULL
);
CREATE INDEX stage_changes_account ON stage_changes(account_id, day, id);
CREATE TABLE scorecards (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    -- The current definition (JSON) and its revision; every revision is kept so that a snapshot
    -- is explained by the measures it was scored with.
    definition TEXT NOT NULL,
    revision BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    -- A deleted scorecard is retired, not removed: the snapshots it scored keep their explanation.
    retired_at BIGINT
);
CREATE TABLE scorecard_revisions (
    scorecard_id BIGINT NOT NULL REFERENCES scorecards(id) ON DELETE CASCADE,
    revision BIGINT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (scorecard_id, revision)
);

-- One snapshot per account per day: the scorecard revision it was scored with, every measure's
-- raw value (JSON array in the revision's order: a number, null for no data, false for not
-- applicable), from which the computed score and contributions follow, and the score and band
-- in force (an override's while one lasts, kept in step when one is set or ended).
CREATE TABLE health_snapshots (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    day TEXT NOT NULL,
    scorecard_id BIGINT NOT NULL REFERENCES scorecards(id) ON DELETE CASCADE,
    revision BIGINT NOT NULL,
    score TEXT,
    band TEXT,
    vals TEXT NOT NULL,
    -- A pass writes one day: its rows go to the end of the table, in order.
    PRIMARY KEY (day, account_id)
) WITHOUT ROWID;
CREATE INDEX health_snapshots_account ON health_snapshots(account_id, day);
CREATE TABLE sentiments (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    rating BIGINT NOT NULL,
    reason TEXT NOT NULL,
    day TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX sentiments_account ON sentiments(account_id, day, id);
CREATE TABLE health_overrides (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    score TEXT NOT NULL,
    reason TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    cleared_at BIGINT
);
CREATE INDEX health_overrides_account ON health_overrides(account_id, starts_on);
-- The days the daily pass has run for.
CREATE TABLE daily_passes (
    day TEXT PRIMARY KEY,
    ran_at BIGINT NOT NULL,
    accounts BIGINT NOT NULL
);
