-- Pauses per clock (business time excluded) and whether a clock is paused right now.
ALTER TABLE sla_clocks ADD COLUMN paused_for interval NOT NULL DEFAULT interval '0';
ALTER TABLE sla_clocks ADD COLUMN paused_reason text;
