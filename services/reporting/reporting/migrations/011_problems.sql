-- Problem records (ADR 48), as the router's problem events tell them.
CREATE TABLE IF NOT EXISTS problems (
    id text PRIMARY KEY,
    origin_object text NOT NULL,
    layer text,
    owner text NOT NULL,
    coordinator text NOT NULL,
    incidents jsonb NOT NULL,
    opened_at timestamptz NOT NULL,
    fix_due timestamptz NOT NULL,
    status text NOT NULL DEFAULT 'open',
    cause text NOT NULL DEFAULT '',
    changed jsonb NOT NULL DEFAULT '[]'::jsonb,
    closed_at timestamptz
);
