CREATE TABLE assignments (
    incident_id text NOT NULL,
    role text NOT NULL,
    party text NOT NULL,
    event_id uuid NOT NULL UNIQUE,
    issued_at timestamptz NOT NULL,
    PRIMARY KEY (incident_id, role)
);
CREATE TABLE processed_events (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
