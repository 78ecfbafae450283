-- Every contract version reporting has seen, by content hash (shared/contract/versions.py), and
-- the version each incident runs under (from its assignments): an old incident's documents are
-- rendered with its own version, while the contract topic (compacted) keeps only the newest.
CREATE TABLE IF NOT EXISTS contract_versions (
    content_hash text PRIMARY KEY,
    version text NOT NULL,
    document jsonb NOT NULL,
    adopted_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS contract_version text;
