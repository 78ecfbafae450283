-- Each incident's clock facts, and one durable timer per clock and threshold.

-- The incident's record (how it opened and every clock fact since); the clocks are a fold of it.
CREATE TABLE incident_clocks (
    incident_id text PRIMARY KEY,
    record jsonb NOT NULL,
    facts int NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per clock and threshold (50/75/90 ... and 100 = breach). A pending row (fired_at NULL)
-- is rewritten with the incident's record in one transaction; a fired row is never touched again,
-- so each warning and breach fires once per clock and threshold, whatever is replayed.
CREATE TABLE timers (
    incident_id text NOT NULL,
    clock text NOT NULL,
    threshold int NOT NULL,
    due timestamptz NOT NULL,
    deadline timestamptz NOT NULL,
    remaining interval NOT NULL,
    party text NOT NULL,
    priority text NOT NULL,
    category text NOT NULL,
    fired_at timestamptz,
    event_id uuid,
    PRIMARY KEY (incident_id, clock, threshold)
);
CREATE INDEX timers_pending_due ON timers (due) WHERE fired_at IS NULL;

-- The clocks table becomes the read model of each clock (for metrics and operators).
ALTER TABLE clocks ALTER COLUMN deadline DROP NOT NULL;
ALTER TABLE clocks
    ADD COLUMN status text NOT NULL DEFAULT 'running',
    ADD COLUMN category text,
    ADD COLUMN elapsed interval,
    ADD COLUMN paused interval,
    ADD COLUMN pause_reason text,
    ADD COLUMN margin interval;
