-- Usage reaches its accounts, and what has not is kept, reported and picked up; quiet accounts
-- are counted from their last day; events list by time.
--
-- An account a Segment group call created (its groupId unknown): a CRM import or an API call
-- bringing the same id adopts it instead of making a second.
ALTER TABLE accounts ADD COLUMN adoptable BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET adoptable = 1 WHERE id IN
    (SELECT CAST(entity_id AS BIGINT) FROM audit_log WHERE action = 'account.create' AND actor = 'segment');
-- Events waiting for their account, by groupId: what /usage/unmatched reports and what an
-- account's arrival picks up. Attributed events leave it.
CREATE INDEX events_waiting ON events (group_id, id) WHERE account_id IS NULL;
-- Every event by time, for the explorer's latest first (live events arrive nearly in time
-- order, so this index grows at its end).
CREATE INDEX events_time ON events (timestamp, id);
-- The bulk index of an account's events, by time (in place of event_accounts).
CREATE TABLE event_times (
    account_id BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (account_id, timestamp, event_id)
) WITHOUT ROWID;
INSERT INTO event_times (account_id, timestamp, event_id)
    SELECT x.account_id, e.timestamp, x.event_id FROM event_accounts x JOIN events e ON e.id = x.event_id
    ORDER BY 1, 2, 3;
DROP TRIGGER accounts_delete_events;
CREATE TRIGGER accounts_delete_events AFTER DELETE ON accounts
BEGIN
    DELETE FROM events WHERE id IN (SELECT event_id FROM event_times WHERE account_id = old.id);
    DELETE FROM events WHERE id > (SELECT indexed_to FROM event_index) AND account_id = old.id;
    DELETE FROM event_times WHERE account_id = old.id;
END;
DROP TABLE event_accounts;
-- Each account's usage events per day, all names together: a row per 62-day block holding
-- "offset:count,…" for the days with any; and each account's first and last day of usage.
CREATE TABLE usage_totals (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    block BIGINT NOT NULL,
    counts TEXT NOT NULL,
    PRIMARY KEY (account_id, block)
);
CREATE INDEX usage_totals_block ON usage_totals (block, account_id);
CREATE TABLE usage_accounts (
    account_id BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    first_day BIGINT NOT NULL,
    last_day BIGINT NOT NULL
);
INSERT INTO usage_totals (account_id, block, counts)
SELECT account_id, dn / 62, group_concat((dn % 62) || ':' || n, ',')
FROM (SELECT account_id, CAST(julianday(day) - 2440587.5 AS INTEGER) AS dn, SUM(count) AS n
      FROM usage_daily GROUP BY account_id, day) d
WHERE dn >= 0
GROUP BY account_id, dn / 62;
INSERT INTO usage_accounts (account_id, first_day, last_day)
SELECT account_id, MIN(CAST(julianday(day) - 2440587.5 AS INTEGER)), MAX(CAST(julianday(day) - 2440587.5 AS INTEGER))
FROM usage_daily GROUP BY account_id;
