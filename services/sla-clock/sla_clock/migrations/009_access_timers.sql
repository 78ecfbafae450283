-- One automatic pause per access request (ADR 50): due when the request's lead time passes
-- unanswered; fired once (fired_at), then the pause is a fact in the incident's record.
CREATE TABLE access_timers (
    request_id text PRIMARY KEY,
    incident_id text NOT NULL,
    reason text NOT NULL,
    due timestamptz NOT NULL,
    part int NOT NULL DEFAULT -1,
    request jsonb NOT NULL,
    fired_at timestamptz
);
CREATE INDEX access_timers_pending ON access_timers (part, due) WHERE fired_at IS NULL;
