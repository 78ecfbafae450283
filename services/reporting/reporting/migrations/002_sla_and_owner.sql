-- The incident's current primary party (for compliance per contractor) and its SLA clocks.
ALTER TABLE incidents ADD COLUMN primary_party text;
ALTER TABLE incidents ADD COLUMN coordinator text;

CREATE TABLE sla_clocks (
    incident_id text NOT NULL,
    clock text NOT NULL,
    started_at timestamptz NOT NULL,
    target interval NOT NULL,
    deadline timestamptz NOT NULL,
    calendar text NOT NULL,
    stopped_at timestamptz,
    met boolean,
    margin interval,
    breached_at timestamptz,
    PRIMARY KEY (incident_id, clock)
);
CREATE INDEX sla_clocks_started ON sla_clocks(started_at);
