-- Problem records (ADR 48): each incident on the origin it counts on, and the problems.
CREATE TABLE IF NOT EXISTS origin_incidents (
    incident_id text PRIMARY KEY,
    origin text NOT NULL,
    opened_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS origin_incidents_origin ON origin_incidents (origin, opened_at);

CREATE TABLE IF NOT EXISTS problems (
    id text PRIMARY KEY,
    origin text NOT NULL,
    status text NOT NULL,               -- open | closed
    record jsonb NOT NULL               -- router.problems.Problem
);
CREATE UNIQUE INDEX IF NOT EXISTS problems_one_open_per_origin ON problems (origin)
    WHERE status = 'open';
