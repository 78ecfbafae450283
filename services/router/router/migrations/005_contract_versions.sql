-- Every contract version the router has adopted, by content hash (shared/contract/versions.py):
-- an open incident's handovers, escalations and backup calls read duty, access and contacts from
-- the version it is pinned to (ADR 37), while the contract topic (compacted) keeps the newest.
CREATE TABLE IF NOT EXISTS contract_versions (
    content_hash text PRIMARY KEY,
    version text NOT NULL,
    document jsonb NOT NULL,
    adopted_at timestamptz NOT NULL DEFAULT now()
);
