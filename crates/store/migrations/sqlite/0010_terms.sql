-- Contract renewals apart from month-to-month ones: a period may state its committed term in
-- months (NULL: one billing interval); each renewal keeps the term it ends.
ALTER TABLE subscription_periods ADD COLUMN term_months BIGINT;
ALTER TABLE renewals ADD COLUMN term_months BIGINT NOT NULL DEFAULT 1;
UPDATE renewals SET term_months = 12 WHERE EXISTS (
    SELECT 1 FROM subscription_periods p WHERE p.subscription_id = renewals.subscription_id
    AND p.billing_interval = 'year' AND (p.renews_on = renewals.due_on OR p.ends_on = renewals.due_on));
