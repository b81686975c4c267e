-- An endpoint is `standard` (Standard Webhooks: signed JSON events) or `slack` (a Slack-compatible
-- incoming webhook: `{"text": …}`, its URL its own credential).
ALTER TABLE webhook_endpoints ADD COLUMN format TEXT NOT NULL DEFAULT 'standard';
