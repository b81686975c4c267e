-- Revenue: subscription periods, invoices, FX rates, renewals and Stripe's delivered events.
-- Dates are 'YYYY-MM-DD' text (sortable on both backends); amounts are exact decimal text.
CREATE TABLE subscription_periods (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    quantity BIGINT NOT NULL,
    currency TEXT NOT NULL,
    amount TEXT NOT NULL,
    billing_interval TEXT NOT NULL,
    starts_on TEXT NOT NULL,
    ends_on TEXT,
    renews_on TEXT,
    payment_terms TEXT,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (subscription_id, starts_on)
);
CREATE INDEX subscription_periods_account ON subscription_periods(account_id, starts_on);
CREATE TABLE invoices (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    invoice_id TEXT NOT NULL UNIQUE,
    currency TEXT NOT NULL,
    amount TEXT NOT NULL,
    issued_on TEXT NOT NULL,
    due_on TEXT,
    paid_on TEXT,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX invoices_account ON invoices(account_id, issued_on);
CREATE TABLE fx_rates (
    currency TEXT NOT NULL,
    month TEXT NOT NULL,
    rate TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (currency, month)
);
CREATE TABLE renewals (
    id BIGSERIAL PRIMARY KEY,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    subscription_id TEXT NOT NULL,
    due_on TEXT NOT NULL,
    plan TEXT NOT NULL,
    currency TEXT NOT NULL,
    arr TEXT NOT NULL,
    outcome TEXT,
    -- 'billing' when read from the subscription's next period, 'person' when recorded by hand.
    outcome_source TEXT,
    new_arr TEXT,
    reason TEXT,
    recorded_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    recorded_at BIGINT,
    UNIQUE (subscription_id, due_on)
);
CREATE INDEX renewals_due ON renewals(due_on, id);
CREATE INDEX renewals_account ON renewals(account_id, due_on);
CREATE TABLE stripe_events (
    event_id TEXT PRIMARY KEY,
    event_type TEXT NOT NULL,
    created BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    payload TEXT NOT NULL
);
