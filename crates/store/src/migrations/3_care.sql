-- Owner services (issue 4): notifications and their webhooks, the arming schedule,
-- monthly reports and the doctor's findings as the owner was told them. Documents are
-- JSON written by the hub's care wiring (crates/hub/src/care), shapes from crates/care.

-- Every notice the owner was given (the live feed); `id` is the notification id that
-- webhooks carry in X-Watchlight-Delivery, unique across hub restarts.
CREATE TABLE care_notifications (
    id     INTEGER PRIMARY KEY,
    at_ms  INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    camera TEXT,
    doc    TEXT NOT NULL
);
CREATE INDEX care_notifications_at ON care_notifications (at_ms);

-- Owner-managed webhooks. The secret is kept as given: the hub needs it to sign (HMAC);
-- the API shows it once, at creation.
CREATE TABLE care_webhooks (
    id         INTEGER PRIMARY KEY,
    url        TEXT NOT NULL,
    secret     TEXT NOT NULL,
    kinds      TEXT NOT NULL,
    created_ms INTEGER NOT NULL
);

-- The weekly arming schedule (one document; the manual mode stays in hub_state).
CREATE TABLE care_schedule (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    doc        TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- Monthly health reports; `trigger` is `monthly` (the month boundary) or `on_demand`.
CREATE TABLE care_reports (
    id           INTEGER PRIMARY KEY,
    month        TEXT NOT NULL,
    from_ms      INTEGER NOT NULL,
    to_ms        INTEGER NOT NULL,
    generated_ms INTEGER NOT NULL,
    trigger      TEXT NOT NULL CHECK (trigger IN ('monthly', 'on_demand')),
    doc          TEXT NOT NULL
);
CREATE INDEX care_reports_trigger_generated ON care_reports (trigger, generated_ms);

-- Findings the doctor reported about a camera (for reports and support bundles).
CREATE TABLE care_findings (
    id        INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    camera    TEXT NOT NULL,
    condition TEXT NOT NULL,
    summary   TEXT NOT NULL
);
CREATE INDEX care_findings_camera_at ON care_findings (camera, at_ms);
