-- Raw events are only ever appended: a per-event index on random keys (messageIds, accounts)
-- costs a page write per event and per index at every commit. What finds events is therefore
-- indexed in bulk, up to `event_index.indexed_to`; a writer keeps the newer events' messageIds
-- in memory (see store::usage). Writers take an advisory lock, so event ids commit in order.
DROP INDEX events_account;
-- Which account's events are where, for events up to event_index.indexed_to (and events
-- attributed later).
CREATE TABLE event_accounts (
    account_id BIGINT NOT NULL,
    event_id BIGINT NOT NULL,
    PRIMARY KEY (account_id, event_id)
);
-- indexed_to: the newest event id whose messageId is in event_ids and whose account is in
-- event_accounts; rolled_to: the newest event id counted in the rollups and users' activity;
-- links_version: a counter every change to who belongs where moves, so an event writer may
-- keep those links in memory until it moves.
CREATE TABLE event_index (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    indexed_to BIGINT NOT NULL,
    rolled_to BIGINT NOT NULL,
    links_version BIGINT NOT NULL
);
INSERT INTO event_accounts (account_id, event_id) SELECT account_id, id FROM events WHERE account_id IS NOT NULL;
INSERT INTO event_index (id, indexed_to, rolled_to, links_version)
    VALUES (1, (SELECT COALESCE(MAX(id), 0) FROM events), (SELECT COALESCE(MAX(id), 0) FROM events), 0);
CREATE OR REPLACE FUNCTION delete_account_events() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM events WHERE id IN (SELECT event_id FROM event_accounts WHERE account_id = OLD.id);
    DELETE FROM events WHERE id > (SELECT indexed_to FROM event_index) AND account_id = OLD.id;
    DELETE FROM event_accounts WHERE account_id = OLD.id;
    RETURN NULL;
END
$$;
CREATE FUNCTION bump_links_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE event_index SET links_version = links_version + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER external_ids_links AFTER INSERT OR UPDATE OR DELETE ON external_ids
    FOR EACH STATEMENT EXECUTE FUNCTION bump_links_version();
CREATE TRIGGER usage_users_links AFTER INSERT OR UPDATE OF account_id ON usage_users
    FOR EACH STATEMENT EXECUTE FUNCTION bump_links_version();
CREATE TRIGGER usage_anonymous_links AFTER INSERT ON usage_anonymous
    FOR EACH STATEMENT EXECUTE FUNCTION bump_links_version();
