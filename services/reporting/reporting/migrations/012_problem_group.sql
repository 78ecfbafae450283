-- The contract's group a problem was counted on (problems.group_by: group, ADR 55); NULL: its
-- object alone.
ALTER TABLE problems ADD COLUMN IF NOT EXISTS group_id text;
