-- correlation: the objects with firing alerts in each incident, and when it last heard an alert
ALTER TABLE incidents ADD COLUMN objects text[] NOT NULL DEFAULT '{}';
ALTER TABLE incidents ADD COLUMN last_alert_at timestamptz;
CREATE INDEX incidents_open_objects ON incidents USING gin (objects) WHERE status <> 'closed';
-- alerts held back by an approved maintenance window; the tick opens an incident for each one
-- still firing when its window ends (row lock + delete in one transaction fence the firing)
CREATE TABLE maintenance_alerts (
    fingerprint text PRIMARY KEY,
    object_id text NOT NULL,
    window_id text NOT NULL,
    received_at timestamptz NOT NULL,
    event jsonb NOT NULL
);
-- PagerDuty change events: change context on the object
CREATE TABLE object_changes (
    id uuid PRIMARY KEY,
    object_id text,
    summary text NOT NULL,
    source text,
    at timestamptz NOT NULL,
    event jsonb NOT NULL
);
CREATE INDEX object_changes_object ON object_changes(object_id, at);
-- the commands consumer's verdict on each command, so that the HTTP action endpoint can answer
-- 202, 403, 404 or 409 with the reason once the command was decided (by any instance)
CREATE TABLE command_outcomes (
    command_id uuid PRIMARY KEY,
    incident_id text NOT NULL,
    status smallint NOT NULL,
    reason text NOT NULL DEFAULT '',
    decided_at timestamptz NOT NULL DEFAULT now()
);
