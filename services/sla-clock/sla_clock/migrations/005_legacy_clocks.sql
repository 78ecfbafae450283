-- Clocks started by the walking skeleton (before 002) have no incident record. Stopped
-- ones say so in the read model; running ones keep their breach timer (fired already if the old
-- tick breached them), which any instance may fire (part -1). Later facts about them are not
-- applied; new incidents get the full treatment.
UPDATE clocks SET status = 'stopped' WHERE stopped_at IS NOT NULL AND status <> 'stopped';
INSERT INTO timers(incident_id, clock, threshold, due, deadline, remaining, party, priority,
                   category, fired_at)
SELECT c.incident_id, c.clock, 100, c.deadline, c.deadline, interval '0', c.party, c.priority,
       '', CASE WHEN c.breached THEN now() END
FROM clocks c
WHERE c.stopped_at IS NULL AND c.deadline IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM incident_clocks i WHERE i.incident_id = c.incident_id)
ON CONFLICT DO NOTHING;
