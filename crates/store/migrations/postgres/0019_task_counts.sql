-- The inbox's indexes carry `snoozed_until` after their sort key, so counting a member's tasks
-- due (the home page, the inbox's header) reads the index alone instead of every task's row.
DROP INDEX tasks_inbox;
CREATE INDEX tasks_inbox ON tasks(owner_id, status, due_sort, id, snoozed_until);
DROP INDEX tasks_open;
CREATE INDEX tasks_open ON tasks(status, due_sort, id, snoozed_until);
