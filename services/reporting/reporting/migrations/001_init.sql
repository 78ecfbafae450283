-- Every event about an incident, from every topic: the audit trail. The event id makes
-- redelivery harmless (it is the processed-event record too).
CREATE TABLE incident_events (
    event_id uuid PRIMARY KEY,
    incident_id text,
    topic text NOT NULL,
    type text NOT NULL,
    source text NOT NULL,
    time timestamptz NOT NULL,
    data jsonb NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX incident_events_incident ON incident_events(incident_id, time);

CREATE TABLE incidents (
    id text PRIMARY KEY,
    object_id text,
    layer text,
    category text NOT NULL,
    priority text NOT NULL,
    status text NOT NULL,
    summary text NOT NULL,
    outside_perimeter boolean NOT NULL,
    first_alert_at timestamptz NOT NULL,
    opened_at timestamptz NOT NULL,
    acknowledged_at timestamptz,
    restored_at timestamptz,
    closed_at timestamptz,
    alert_count integer NOT NULL DEFAULT 1
);

CREATE TABLE closure_reports (
    incident_id text PRIMARY KEY REFERENCES incidents(id),
    cause text NOT NULL,
    actions_taken jsonb NOT NULL,
    started_at timestamptz NOT NULL,
    restored_at timestamptz,
    closed_at timestamptz NOT NULL,
    downtime interval,
    provider_participants jsonb NOT NULL,
    customer_participants jsonb NOT NULL,
    recurrence_risk text NOT NULL,
    confirmed_by text NOT NULL
);
