-- Playbooks (issue 18). `definition` is the version in force (`version`); every version's text
-- stays in playbook_versions, so a run keeps the version it started with.
CREATE TABLE playbooks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    definition TEXT NOT NULL,
    version BIGINT NOT NULL,
    enabled BIGINT NOT NULL DEFAULT 0,
    -- The last change of `enabled`: when, and what was chosen (`existing`/`new` when enabled,
    -- `keep`/`close` for its open tasks when disabled).
    switched_at BIGINT,
    switch_choice TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE TABLE playbook_versions (
    playbook_id BIGINT NOT NULL REFERENCES playbooks(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    definition TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (playbook_id, version)
);
-- Where an enabled playbook stands with an account (core::facts::Enrolment) as of the last
-- pass that acted: the days its trigger has held, whether that run fired, when it last fired.
-- Days are day numbers (days since 1970-01-01): a pass reads every row of every enabled playbook.
-- A row back at nothing (no run, never fired) is deleted.
CREATE TABLE playbook_enrolments (
    playbook_id BIGINT NOT NULL REFERENCES playbooks(id) ON DELETE CASCADE,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    since BIGINT,
    fired BIGINT NOT NULL,
    last_fired BIGINT,
    cleared_on BIGINT,
    PRIMARY KEY (playbook_id, account_id)
);
-- A run: one version of a playbook firing for one account and trigger occurrence (the first day
-- of the run of days its trigger held), once, with the values that made it fire.
CREATE TABLE playbook_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    playbook_id BIGINT NOT NULL REFERENCES playbooks(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    occurrence TEXT NOT NULL,
    day TEXT NOT NULL,
    trigger_values TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (playbook_id, version, account_id, occurrence)
);
CREATE INDEX playbook_runs_recent ON playbook_runs(playbook_id, id);
CREATE INDEX playbook_runs_account ON playbook_runs(account_id, id);
-- Each action of a run, once: `idempotency_key` is playbook × version × account × occurrence ×
-- step. `outcome` is `done` or `failed` (with `detail` the error); `task_id` the task it opened.
CREATE TABLE playbook_actions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id BIGINT NOT NULL REFERENCES playbook_runs(id) ON DELETE CASCADE,
    step BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    detail TEXT,
    task_id BIGINT REFERENCES tasks(id) ON DELETE SET NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX playbook_actions_run ON playbook_actions(run_id, step);
-- What a playbook would have done (a simulation, `replay --dry-run`): apart from what playbooks
-- did, never acted on. `acts` holds the first 10 000 as JSON; `total` counts them all.
CREATE TABLE playbook_simulations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    playbook_id BIGINT NOT NULL REFERENCES playbooks(id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    first_day TEXT NOT NULL,
    last_day TEXT NOT NULL,
    enrol TEXT NOT NULL,
    total BIGINT NOT NULL,
    acts TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX playbook_simulations_recent ON playbook_simulations(playbook_id, id);
