-- a verdict is looked up by command id and the party that sent it, and an Idempotency-Key
-- reused with another body is told so (the digest of the action the verdict is on): ADR 36
ALTER TABLE command_outcomes
    ADD COLUMN party text NOT NULL DEFAULT '',
    ADD COLUMN digest text NOT NULL DEFAULT '';
