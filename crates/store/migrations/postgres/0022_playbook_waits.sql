-- Steps with waits: a run that reached a wait goes on at step `next_step` on day `resume_on`;
-- both are null once it has nothing left to wait for (done, or stopped when switched off).
ALTER TABLE playbook_runs ADD COLUMN next_step BIGINT;
ALTER TABLE playbook_runs ADD COLUMN resume_on TEXT;
CREATE INDEX playbook_runs_waiting ON playbook_runs(resume_on) WHERE resume_on IS NOT NULL;
-- Round-robin assignment: the member an assign step (playbook × step) chose last.
CREATE TABLE playbook_rotations (
    playbook_id BIGINT NOT NULL REFERENCES playbooks(id) ON DELETE CASCADE,
    step BIGINT NOT NULL,
    last_member BIGINT NOT NULL,
    PRIMARY KEY (playbook_id, step)
);
-- The addresses (lower case) that unsubscribed from playbook e-mails (one click, RFC 8058): none
-- is sent to them again, whatever becomes of the contact (deleted, imported again).
CREATE TABLE unsubscribed (
    email TEXT PRIMARY KEY,
    contact_id BIGINT,
    at BIGINT NOT NULL
);
-- A contact's playbook e-mails of the last seven days, for the weekly cap.
CREATE INDEX deliveries_recipient ON deliveries(recipient, event, created_at);
