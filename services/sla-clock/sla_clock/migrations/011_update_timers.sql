-- The update cadence (ADR 47): per open incident, the reminder and the overdue instant of the
-- customer's next update, one row each, fired once ever like `timers` (a pending row is
-- rewritten with the incident's record; a fired one is never touched again).
CREATE TABLE IF NOT EXISTS update_timers (
    incident_id text NOT NULL,
    seq int NOT NULL,                   -- updates given before this one falls due
    kind text NOT NULL,                 -- reminder | overdue
    due timestamptz NOT NULL,           -- when the timer fires
    update_due timestamptz NOT NULL,    -- when the update is due
    every interval NOT NULL,
    last_update_at timestamptz,
    coordinator text NOT NULL,
    priority text NOT NULL,
    part int NOT NULL,                  -- the incident's partition of the incidents topic
    fired_at timestamptz,
    event_id uuid,
    PRIMARY KEY (incident_id, seq, kind)
);
CREATE INDEX IF NOT EXISTS update_timers_pending_due ON update_timers (due) WHERE fired_at IS NULL;
