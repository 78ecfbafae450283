-- Changes beside incidents (ADR 46): every baton.change.recorded of the changes topic, one row
-- per change (its id is the processed-event record: a redelivered change is the same row).
CREATE TABLE IF NOT EXISTS changes (
    id uuid PRIMARY KEY,
    object_id text,                 -- NULL: every object (a contract publication)
    at timestamptz NOT NULL,
    summary text NOT NULL,
    link text,
    source text NOT NULL,
    by_whom text,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS changes_object_at ON changes (object_id, at);
CREATE INDEX IF NOT EXISTS changes_at ON changes (at);
