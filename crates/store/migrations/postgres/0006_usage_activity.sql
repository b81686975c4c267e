-- Activity over a window for every account at once (least and most active accounts, health
-- passes): the rollups by day first.
CREATE INDEX usage_user_days_day ON usage_user_days(day, account_id, user_key);
CREATE INDEX usage_daily_day ON usage_daily(day, account_id);
-- messageIds are forgotten by the day they were indexed (7 days on).
CREATE INDEX event_ids_received ON event_ids(received_at);
