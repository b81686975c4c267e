-- A delivery being sent names the process that claimed it, which renews its short lease while the
-- attempt runs and alone may record it: a node killed mid-batch leaves its deliveries to another
-- within seconds, and a late answer from a node whose lease ran out changes nothing.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT;
-- When the endpoint last failed: "failing for a day" means failures that kept coming for a day,
-- not one failure, a quiet week, and another.
ALTER TABLE webhook_endpoints ADD COLUMN last_failed_at BIGINT;
