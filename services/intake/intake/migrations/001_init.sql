CREATE TABLE incidents (
    id text PRIMARY KEY,
    object_id text,
    status text NOT NULL,
    opened_at timestamptz NOT NULL,
    state jsonb NOT NULL
);
-- fingerprints of alerts attached to incidents that are not closed: the deduplication index
CREATE TABLE open_fingerprints (
    fingerprint text PRIMARY KEY,
    incident_id text NOT NULL REFERENCES incidents(id)
);
CREATE INDEX incidents_open_object ON incidents(object_id) WHERE status <> 'closed';
CREATE TABLE processed_events (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
