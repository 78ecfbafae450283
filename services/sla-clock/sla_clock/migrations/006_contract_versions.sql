-- Every contract version this service has acted on, by content hash: an open incident's clocks
-- keep the version they started under (frozen policy) across restarts, while the contract topic
-- (compacted) keeps only the newest.
CREATE TABLE IF NOT EXISTS contract_versions (
    content_hash text PRIMARY KEY,
    version text NOT NULL,
    document jsonb NOT NULL,
    adopted_at timestamptz NOT NULL DEFAULT now()
);
