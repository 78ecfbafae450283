-- Scale-out: each timer belongs to the incidents-topic partition of its incident, so
-- an instance fires only the timers of partitions it owns and has caught up on. Rows from
-- before this migration (-1) may be fired by any instance (row locks keep that single).
ALTER TABLE timers ADD COLUMN part int NOT NULL DEFAULT -1;
CREATE INDEX timers_pending_part_due ON timers (part, due) WHERE fired_at IS NULL;
