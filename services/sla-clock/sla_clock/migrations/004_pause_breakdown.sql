-- Business time each clock was paused, per pause reason and per invoking party
-- (seconds), for reporting and operators.
ALTER TABLE clocks
    ADD COLUMN paused_by_reason jsonb NOT NULL DEFAULT '{}',
    ADD COLUMN paused_by_party jsonb NOT NULL DEFAULT '{}';
