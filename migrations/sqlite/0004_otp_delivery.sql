-- Resend SMS on Approval answers as eHealth does (migrations/postgres/0012_otp_delivery.sql).
ALTER TABLE sms_outbox ADD COLUMN job_id TEXT;

CREATE TABLE otp_initializations (
    phone_number   TEXT PRIMARY KEY,
    initialized_at TEXT NOT NULL,
    claim_id       TEXT NOT NULL,
    holder         TEXT
);
