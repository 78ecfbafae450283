-- The router's own state per incident (the pure core's RouteState, as JSON) and the
-- timers that call a party's backup contacts when its assignment is not acknowledged in time.
CREATE TABLE routes (
    incident_id text PRIMARY KEY,
    state jsonb NOT NULL,
    contract_version text NOT NULL,
    primary_party text NOT NULL,
    coordinator text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ack_timers (
    incident_id text NOT NULL REFERENCES routes (incident_id),
    party text NOT NULL,
    due_at timestamptz NOT NULL,
    fired_at timestamptz,
    PRIMARY KEY (incident_id, party)
);
CREATE INDEX ack_timers_due ON ack_timers (due_at) WHERE fired_at IS NULL;
