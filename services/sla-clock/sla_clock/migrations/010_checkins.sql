-- Check-ins (ADR 16): one row per expected event's key; timers fired once ever, like `timers`.
CREATE TABLE IF NOT EXISTS checkins (
    key text PRIMARY KEY,
    name text NOT NULL,                 -- object/duty: what logs and metrics show, never the key
    part int NOT NULL,                  -- partition of the checkins topic the key lives on
    schedule text NOT NULL,             -- the schedule it was planned under
    watch_since timestamptz NOT NULL,
    expected_at timestamptz,            -- the run awaited now
    last_success timestamptz,
    last_ping_at timestamptz,
    last_ping_kind text,
    last_exit_status int,
    started_at timestamptz,
    down boolean NOT NULL DEFAULT false,
    grace interval NOT NULL
);

CREATE TABLE IF NOT EXISTS checkin_timers (
    key text NOT NULL,
    kind text NOT NULL,                 -- missed | timeout
    expected_at timestamptz NOT NULL,
    due timestamptz NOT NULL,
    part int NOT NULL,
    fired_at timestamptz,
    PRIMARY KEY (key, kind, expected_at)
);
CREATE INDEX IF NOT EXISTS checkin_timers_pending ON checkin_timers (part, due)
    WHERE fired_at IS NULL;

-- Each ping with its body (the run's log, bounded by the receiver).
CREATE TABLE IF NOT EXISTS checkin_pings (
    event_id uuid PRIMARY KEY,
    key text NOT NULL,
    at timestamptz NOT NULL,
    kind text NOT NULL,
    exit_status int,
    body text NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS checkin_pings_key_at ON checkin_pings (key, at);
