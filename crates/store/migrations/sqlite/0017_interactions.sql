-- Interactions a CSM logs on an account (an e-mail, a call, a meeting, a note, a QBR): when it
-- happened (an instant, and its UTC day, which `days_since_interaction()` counts from), the people
-- on both sides, and who logged it. `external_id` names one imported from another tool, so a
-- re-import adds nothing.
CREATE TABLE interactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    occurred_on TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    external_id TEXT,
    author_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    author TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX interactions_account ON interactions(account_id, occurred_at, id);
CREATE INDEX interactions_time ON interactions(occurred_at, id);
CREATE INDEX interactions_day ON interactions(occurred_on, account_id);
CREATE UNIQUE INDEX interactions_external ON interactions(external_id) WHERE external_id IS NOT NULL;
-- The people on both sides: the account's contacts and the team's members.
CREATE TABLE interaction_contacts (
    interaction_id BIGINT NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
    contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    PRIMARY KEY (interaction_id, contact_id)
);
CREATE INDEX interaction_contacts_contact ON interaction_contacts(contact_id);
CREATE TABLE interaction_members (
    interaction_id BIGINT NOT NULL REFERENCES interactions(id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    PRIMARY KEY (interaction_id, user_id)
);
CREATE INDEX interaction_members_user ON interaction_members(user_id);
-- A counter every change to interactions moves forward (the store bumps it in the write), so
-- the live scores know when `days_since_interaction()` may have changed without counting rows.
CREATE TABLE interaction_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO interaction_version (id, version) VALUES (1, 0);
