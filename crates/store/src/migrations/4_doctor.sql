-- The doctor (issue 6): learned priors and confirmed fixes.

-- Confirmed-fault pseudo-counts per profile id (or "any"), the doctor's learned
-- priors (crates/doctor/src/priors.rs). Ids are the doctor's; the store does not
-- interpret them.
CREATE TABLE doctor_prior_counts (
    profile    TEXT NOT NULL,
    fault      TEXT NOT NULL,
    count      REAL NOT NULL CHECK (count >= 0),
    updated_ms INTEGER NOT NULL,
    PRIMARY KEY (profile, fault)
) WITHOUT ROWID;

-- Every confirmation an owner made, kept for the support bundle and the monthly report.
CREATE TABLE doctor_confirmations (
    id        INTEGER PRIMARY KEY,
    device_id TEXT NOT NULL,
    profile   TEXT NOT NULL,
    fault     TEXT NOT NULL,
    action    TEXT NOT NULL,
    weight    REAL NOT NULL CHECK (weight >= 0),
    ts_ms     INTEGER NOT NULL
);
CREATE INDEX doctor_confirmations_device_ts ON doctor_confirmations (device_id, ts_ms);
