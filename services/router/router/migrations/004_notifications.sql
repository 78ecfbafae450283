-- Messages to people (router/notify.py): one row per person x channel of a router event,
-- written in the transaction of the route change (the id is stable_id of the event, person
-- and channel: redelivery writes nothing new), sent by the notification worker outside any
-- transaction (router/outbox.py): queued -> sending (claimed, with a lease) -> sent, or back to
-- queued with a later next_at, or failed after the last try. Once settled, its outcome goes to
-- the incident's timeline (baton.assignment.notification) and reported is set.
CREATE TABLE notifications (
    id uuid PRIMARY KEY,
    incident_id text NOT NULL,
    event_id uuid NOT NULL,
    kind text NOT NULL,
    party text NOT NULL,
    recipient text NOT NULL,
    channel text NOT NULL,
    address text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    state text NOT NULL DEFAULT 'queued'
        CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    next_at timestamptz NOT NULL,
    sent_at timestamptz,
    failed_at timestamptz,
    last_error text,
    reported boolean NOT NULL DEFAULT false
);
CREATE INDEX notifications_due ON notifications (next_at) WHERE state IN ('queued', 'sending');
CREATE INDEX notifications_incident ON notifications (incident_id);
CREATE INDEX notifications_unreported ON notifications (created_at)
    WHERE state IN ('sent', 'failed') AND NOT reported;
