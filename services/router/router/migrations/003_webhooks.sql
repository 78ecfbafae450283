-- Pushes to parties' webhook endpoints, one row per (event, party), written in the
-- transaction that publishes the event and worked off by the router's tick with backoff.
CREATE TABLE webhook_deliveries (
    event_id uuid NOT NULL,
    party text NOT NULL,
    incident_id text,
    url text NOT NULL,
    body bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_at timestamptz NOT NULL,
    delivered_at timestamptz,
    failed_at timestamptz,
    last_error text,
    PRIMARY KEY (event_id, party)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
