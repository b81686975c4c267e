-- An endpoint is `standard` (Standard Webhooks: signed JSON events) or `slack` (a Slack-compatible
-- incoming webhook: `{"text": …}`, its URL its own credential).
ALTER TABLE webhook_endpoints ADD COLUMN format TEXT NOT NULL DEFAULT 'standard';
-- An enabled playbook's edit waits here until it is published as the next version.
ALTER TABLE playbooks ADD COLUMN draft TEXT;
-- How far an event-triggered playbook has read the events (by id): those after it are acted on
-- as they arrive.
ALTER TABLE playbooks ADD COLUMN event_cursor BIGINT NOT NULL DEFAULT 0;
