-- Correlation: where the fault probably started, every object alerting, the units affected.
ALTER TABLE incidents ADD COLUMN origin_object text;
ALTER TABLE incidents ADD COLUMN origin_layer text;
ALTER TABLE incidents ADD COLUMN objects jsonb NOT NULL DEFAULT '[]';
ALTER TABLE incidents ADD COLUMN scope jsonb NOT NULL DEFAULT '[]';
ALTER TABLE incidents ADD COLUMN monitoring_recovered_at timestamptz;
