-- The accounts list's figures (issue 19): one row per account holding what the list shows and
-- sorts by, each with an index. Revenue and health are written by the daily pass of the newest
-- day and by the writes that change them; the owner's name and the last day of usage by the
-- triggers below. Sort keys are never NULL: -1 (or 9999-12-31) stands for "none", so a cursor
-- carries a plain value.
CREATE TABLE account_figures (
    account_id BIGINT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    -- The day MRR and the renewal are as of (NULL: not computed yet).
    revenue_on TEXT,
    currency TEXT,
    -- MRR in the account's currency (exact decimal text).
    mrr TEXT,
    -- MRR in the reporting currency, in cents (-1: none, or no rate to convert it).
    mrr_key BIGINT NOT NULL DEFAULT -1,
    renews_on TEXT NOT NULL DEFAULT '9999-12-31',
    -- The last day of usage, in days since 1970-01-01 (-1: never).
    last_active BIGINT NOT NULL DEFAULT -1,
    -- The day of the pass the health is from (NULL: never scored).
    health_on TEXT,
    -- The score in force × 100 (-1: none); the band; the coverage in percent × 100 (-1: none).
    score_key BIGINT NOT NULL DEFAULT -1,
    band TEXT,
    coverage_key BIGINT NOT NULL DEFAULT -1,
    overridden BIGINT NOT NULL DEFAULT 0,
    -- The owner's name in lower case ('' without an owner).
    owner_key TEXT NOT NULL DEFAULT ''
);
-- The day the daily pass last reckoned every account's revenue: the next pass reckons only the
-- accounts whose periods started, ended or renewed since (all of them in a new month, for its
-- rate, or when the reporting currency is not the one they were reckoned in).
CREATE TABLE account_figures_reckoned (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    day TEXT NOT NULL,
    currency TEXT NOT NULL
);
CREATE INDEX account_figures_mrr ON account_figures(mrr_key, account_id);
CREATE INDEX account_figures_renewal ON account_figures(renews_on, account_id);
CREATE INDEX account_figures_active ON account_figures(last_active, account_id);
CREATE INDEX account_figures_score ON account_figures(score_key, account_id);
CREATE INDEX account_figures_coverage ON account_figures(coverage_key, account_id);
CREATE INDEX account_figures_owner ON account_figures(owner_key, account_id);
CREATE INDEX account_figures_band ON account_figures(band, account_id);
INSERT INTO account_figures (account_id, owner_key, last_active)
SELECT a.id, COALESCE(lower(u.name), ''), COALESCE(ua.last_day, -1)
FROM accounts a LEFT JOIN users u ON u.id = a.owner_id LEFT JOIN usage_accounts ua ON ua.account_id = a.id;
CREATE FUNCTION account_figures_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO account_figures (account_id, owner_key)
    VALUES (NEW.id, COALESCE((SELECT lower(name) FROM users WHERE id = NEW.owner_id), ''));
    RETURN NULL;
END
$$;
CREATE TRIGGER accounts_figures_insert AFTER INSERT ON accounts
    FOR EACH ROW EXECUTE FUNCTION account_figures_insert();
CREATE FUNCTION account_figures_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_figures SET owner_key = COALESCE((SELECT lower(name) FROM users WHERE id = NEW.owner_id), '')
    WHERE account_id = NEW.id;
    RETURN NULL;
END
$$;
CREATE TRIGGER accounts_figures_owner AFTER UPDATE OF owner_id ON accounts
    FOR EACH ROW EXECUTE FUNCTION account_figures_owner();
CREATE FUNCTION user_figures_owner() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE account_figures SET owner_key = lower(NEW.name)
    WHERE account_id IN (SELECT id FROM accounts WHERE owner_id = NEW.id);
    RETURN NULL;
END
$$;
CREATE TRIGGER users_figures_owner AFTER UPDATE OF name ON users
    FOR EACH ROW EXECUTE FUNCTION user_figures_owner();
CREATE FUNCTION usage_figures_active() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE account_figures SET last_active = -1 WHERE account_id = OLD.account_id;
    ELSE
        UPDATE account_figures SET last_active = NEW.last_day WHERE account_id = NEW.account_id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER usage_accounts_figures_insert AFTER INSERT ON usage_accounts
    FOR EACH ROW EXECUTE FUNCTION usage_figures_active();
CREATE TRIGGER usage_accounts_figures_update AFTER UPDATE OF last_day ON usage_accounts
    FOR EACH ROW WHEN (NEW.last_day <> OLD.last_day) EXECUTE FUNCTION usage_figures_active();
CREATE TRIGGER usage_accounts_figures_delete AFTER DELETE ON usage_accounts
    FOR EACH ROW EXECUTE FUNCTION usage_figures_active();
