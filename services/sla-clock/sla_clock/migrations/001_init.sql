CREATE TABLE clocks (
    incident_id text NOT NULL,
    clock text NOT NULL,
    started_at timestamptz NOT NULL,
    target interval NOT NULL,
    deadline timestamptz NOT NULL,
    calendar text NOT NULL,
    priority text NOT NULL,
    party text NOT NULL,
    stopped_at timestamptz,
    met boolean,
    breached boolean NOT NULL DEFAULT false,
    PRIMARY KEY (incident_id, clock)
);
CREATE INDEX clocks_running_deadline ON clocks(deadline) WHERE stopped_at IS NULL AND NOT breached;
CREATE TABLE processed_events (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
