-- Failed invoices are few; the revenue metrics read only them (and the next invoice after each).
CREATE INDEX invoices_failed ON invoices(account_id, issued_on) WHERE status = 'failed';

-- A counter that every change to what the revenue metrics read moves forward, so that a node
-- may keep a computed ledger until the counter moves (see the server's revenue cache).
CREATE TABLE revenue_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO revenue_version (id, version) VALUES (1, 0);
CREATE FUNCTION bump_revenue_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE revenue_version SET version = version + 1;
    RETURN NULL;
END
$$;
CREATE TRIGGER subscription_periods_rv AFTER INSERT OR UPDATE OR DELETE ON subscription_periods
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revenue_version();
CREATE TRIGGER invoices_rv AFTER INSERT OR DELETE OR UPDATE OF account_id, issued_on, status ON invoices
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revenue_version();
CREATE TRIGGER fx_rates_rv AFTER INSERT OR UPDATE OR DELETE ON fx_rates
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revenue_version();
CREATE TRIGGER accounts_rv AFTER DELETE OR UPDATE OF country, industry, owner_id ON accounts
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revenue_version();
CREATE TRIGGER renewals_rv AFTER INSERT OR UPDATE OR DELETE ON renewals
    FOR EACH STATEMENT EXECUTE FUNCTION bump_revenue_version();
