-- Who paused a clock and what was left of its target then (the read API shows paused clocks).
ALTER TABLE sla_clocks ADD COLUMN paused_party text;
ALTER TABLE sla_clocks ADD COLUMN paused_remaining interval;
