-- Resend SMS on Approval answers as eHealth does.
--
-- The resend's job is finished by the SMS dispatcher, in the transaction that marks the message
-- sent (or superseded, or given up): the outbox row names its job.
ALTER TABLE sms_outbox ADD COLUMN job_id text;

-- The OTP service's initialisation limit, per phone, shared by every instance: a resend claims
-- its phone with an upsert that only succeeds when the last initialisation is older than the
-- window (EHEALTH_OTP_INIT_LIMIT), and gives the claim back (deletes the row it wrote) when its
-- command is then refused. `holder` is a digest of the caller and Idempotency-Key, so a retry of
-- an in-flight request is answered as a retry rather than refused. Holds personal data (phones).
CREATE TABLE otp_initializations (
    phone_number   text        PRIMARY KEY,
    initialized_at timestamptz NOT NULL,
    claim_id       uuid        NOT NULL,
    holder         text
);
