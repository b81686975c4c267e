-- Steps with waits: a run that reached a wait goes on at step `next_step` on day `resume_on`;
-- both are null once it has nothing left to wait for (done, or stopped when switched off).
ALTER TABLE playbook_runs ADD COLUMN next_step BIGINT;
ALTER TABLE playbook_runs ADD COLUMN resume_on TEXT;
CREATE INDEX playbook_runs_waiting ON playbook_runs(resume_on) WHERE resume_on IS NOT NULL;
-- Round-robin assignment: how many accounts an assign step (playbook × step) has handed out.
CREATE TABLE playbook_rotations (
    playbook_id BIGINT NOT NULL REFERENCES playbooks(id) ON DELETE CASCADE,
    step BIGINT NOT NULL,
    turns BIGINT NOT NULL,
    PRIMARY KEY (playbook_id, step)
);
-- A contact who unsubscribed from playbook e-mails (one click, RFC 8058): none is sent again.
ALTER TABLE contacts ADD COLUMN unsubscribed_at BIGINT;
-- A contact's playbook e-mails of the last seven days, for the weekly cap.
CREATE INDEX deliveries_recipient ON deliveries(recipient, event, created_at);
