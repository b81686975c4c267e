-- On PostgreSQL the usage fold runs beside the event writers, in steps. A step upserts users'
-- first and last seen, which changes no one's account, yet the statement trigger moved
-- links_version and made every writer reload who belongs where after every step. A transaction
-- that says it only folds (keepwell.folding = 'on', set locally by Store::fold_step) leaves it.
CREATE OR REPLACE FUNCTION bump_links_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('keepwell.folding', true) IS DISTINCT FROM 'on' THEN
        UPDATE event_index SET links_version = links_version + 1;
    END IF;
    RETURN NULL;
END
$$;
