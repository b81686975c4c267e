-- The account a Stripe event was applied to, so playbooks (and their simulation) can trigger on
-- it. Events recorded before name it in their outcome ("account 12: ...").
ALTER TABLE stripe_events ADD COLUMN account_id BIGINT REFERENCES accounts(id) ON DELETE SET NULL;
UPDATE stripe_events SET account_id = CAST(substr(outcome, 9) AS INTEGER)
WHERE outcome LIKE 'account %' AND CAST(substr(outcome, 9) AS INTEGER) IN (SELECT id FROM accounts);
-- The pass reads the types its playbooks and measures count, over its days: covered here.
CREATE INDEX stripe_events_account ON stripe_events(event_type, created, account_id) WHERE account_id IS NOT NULL;
