-- Tasks a CSM works: open until done or cancelled, owned by a member, usually about an account.
-- `due_sort` is the due date or '9999-12-31' (none sorts last), so an inbox pages on an index.
-- `source` names what an automation's task is about (`renewal:123`): one open task per source.
CREATE TABLE tasks (
    id BIGSERIAL PRIMARY KEY,
    title TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    priority TEXT NOT NULL,
    owner_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    account_id BIGINT REFERENCES accounts(id) ON DELETE CASCADE,
    due_on TEXT,
    due_sort TEXT NOT NULL,
    snoozed_until TEXT,
    description TEXT NOT NULL,
    source TEXT,
    created_by TEXT NOT NULL,
    created_by_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    closed_at BIGINT,
    closed_by TEXT,
    closed_by_id BIGINT REFERENCES users(id) ON DELETE SET NULL
);
CREATE INDEX tasks_inbox ON tasks(owner_id, status, due_sort, id);
CREATE INDEX tasks_open ON tasks(status, due_sort, id);
CREATE INDEX tasks_account ON tasks(account_id, status, due_sort, id);
CREATE UNIQUE INDEX tasks_open_source ON tasks(source) WHERE status = 'open' AND source IS NOT NULL;
CREATE INDEX tasks_closed ON tasks(account_id, closed_at) WHERE closed_at IS NOT NULL;
CREATE TABLE task_comments (
    id BIGSERIAL PRIMARY KEY,
    task_id BIGINT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    author_id BIGINT REFERENCES users(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX task_comments_task ON task_comments(task_id, id);
-- In-app notifications (the bell): one per member and occurrence, read or not.
CREATE TABLE notifications (
    id BIGSERIAL PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    occurrence TEXT NOT NULL,
    kind TEXT NOT NULL,
    account_id BIGINT REFERENCES accounts(id) ON DELETE CASCADE,
    task_id BIGINT REFERENCES tasks(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    read_at BIGINT
);
CREATE UNIQUE INDEX notifications_occurrence ON notifications(user_id, occurrence);
CREATE INDEX notifications_unread ON notifications(user_id, read_at, id);
CREATE INDEX notifications_user ON notifications(user_id, id);
-- An account's timeline reads its segment changes and the deliveries about it.
CREATE INDEX segment_changes_account ON segment_changes(account_id, day);
CREATE INDEX deliveries_account ON deliveries(account_id, id) WHERE account_id IS NOT NULL;
