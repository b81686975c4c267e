-- Foundation: people, accounts, contacts, external ids, audit. Timestamps are UTC microseconds.
CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    email TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    locale TEXT,
    disabled_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    flash TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions(user_id);
CREATE TABLE api_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_by BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE TABLE write_keys (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    domain TEXT,
    industry TEXT,
    employees BIGINT,
    country TEXT,
    plan TEXT,
    lifecycle_stage TEXT NOT NULL,
    owner_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    tags TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX accounts_name ON accounts(name_key, id);
CREATE INDEX accounts_owner ON accounts(owner_id, name_key);
CREATE INDEX accounts_stage ON accounts(lifecycle_stage, name_key);
CREATE INDEX accounts_country ON accounts(country, name_key);
-- One index per list order, so a sorted page reads 50 rows, not the whole table.
CREATE INDEX accounts_created ON accounts(created_at, id);
CREATE INDEX accounts_updated ON accounts(updated_at, id);
CREATE INDEX accounts_employees ON accounts((COALESCE(employees, -1)), id);
-- Substring search over name and domain: a trigram index, kept in step with accounts by triggers.
CREATE VIRTUAL TABLE accounts_search USING fts5(
    name_key, domain, content='accounts', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER accounts_search_insert AFTER INSERT ON accounts BEGIN
    INSERT INTO accounts_search (rowid, name_key, domain) VALUES (new.id, new.name_key, new.domain);
END;
CREATE TRIGGER accounts_search_delete AFTER DELETE ON accounts BEGIN
    INSERT INTO accounts_search (accounts_search, rowid, name_key, domain)
    VALUES ('delete', old.id, old.name_key, old.domain);
END;
CREATE TRIGGER accounts_search_update AFTER UPDATE OF name_key, domain ON accounts BEGIN
    INSERT INTO accounts_search (accounts_search, rowid, name_key, domain)
    VALUES ('delete', old.id, old.name_key, old.domain);
    INSERT INTO accounts_search (rowid, name_key, domain) VALUES (new.id, new.name_key, new.domain);
END;
CREATE TABLE account_tags (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    tag TEXT NOT NULL,
    PRIMARY KEY (account_id, tag)
);
CREATE INDEX account_tags_tag ON account_tags(tag, account_id);
CREATE TABLE external_ids (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    CONSTRAINT external_ids_kind_value UNIQUE (kind, value)
);
CREATE INDEX external_ids_value ON external_ids(value);
CREATE INDEX external_ids_account ON external_ids(account_id);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    name TEXT,
    title TEXT,
    role TEXT,
    locale TEXT,
    attributes TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT contacts_email UNIQUE (email)
);
CREATE INDEX contacts_account ON contacts(account_id, email);
CREATE TABLE contact_user_ids (
    contact_id BIGINT NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    user_id TEXT NOT NULL,
    CONSTRAINT contact_user_ids_user UNIQUE (user_id)
);
CREATE INDEX contact_user_ids_contact ON contact_user_ids(contact_id);
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    actor_user_id BIGINT,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT,
    before TEXT,
    after TEXT
);
CREATE INDEX audit_log_entity ON audit_log(entity, entity_id, id);
