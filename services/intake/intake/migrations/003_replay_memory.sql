-- signatures of HMAC-signed requests, each accepted once: kept for the replay window, shared by
-- every intake instance and surviving restarts
CREATE TABLE seen_signatures (
    signature text PRIMARY KEY,
    expires_at timestamptz NOT NULL
);
CREATE INDEX seen_signatures_expiry ON seen_signatures (expires_at);
