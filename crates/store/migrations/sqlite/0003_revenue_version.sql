-- Failed invoices are few; the revenue metrics read only them (and the next invoice after each).
CREATE INDEX invoices_failed ON invoices(account_id, issued_on) WHERE status = 'failed';

-- A counter that every change to what the revenue metrics read moves forward, so that a node
-- may keep a computed ledger until the counter moves (see the server's revenue cache).
CREATE TABLE revenue_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO revenue_version (id, version) VALUES (1, 0);
CREATE TRIGGER subscription_periods_insert_rv AFTER INSERT ON subscription_periods
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER subscription_periods_update_rv AFTER UPDATE ON subscription_periods
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER subscription_periods_delete_rv AFTER DELETE ON subscription_periods
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER invoices_insert_rv AFTER INSERT ON invoices
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER invoices_update_rv AFTER UPDATE OF account_id, issued_on, status ON invoices
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER invoices_delete_rv AFTER DELETE ON invoices
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER fx_rates_insert_rv AFTER INSERT ON fx_rates
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER fx_rates_update_rv AFTER UPDATE ON fx_rates
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER fx_rates_delete_rv AFTER DELETE ON fx_rates
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER accounts_update_rv AFTER UPDATE OF country, industry, owner_id ON accounts
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER accounts_delete_rv AFTER DELETE ON accounts
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER renewals_insert_rv AFTER INSERT ON renewals
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER renewals_update_rv AFTER UPDATE ON renewals
    BEGIN UPDATE revenue_version SET version = version + 1; END;
CREATE TRIGGER renewals_delete_rv AFTER DELETE ON renewals
    BEGIN UPDATE revenue_version SET version = version + 1; END;
