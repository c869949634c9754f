-- Async jobs, as eHealth's async actions answer them: created pending in the append transaction, finished by the
-- effects worker. Ids are 24 hex characters, like eHealth's Mongo ObjectIds.
CREATE TABLE jobs (
    id              text        PRIMARY KEY,
    legal_entity_id uuid        NOT NULL,
    user_id         uuid        NOT NULL,
    action          text        NOT NULL,
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    status_code     integer,
    links           jsonb,
    response_data   jsonb,
    error           jsonb,
    eta             timestamptz NOT NULL,
    inserted_at     timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_pending_idx ON jobs (inserted_at) WHERE status = 'pending';

-- SMS to deliver. The effects worker inserts a row in the same transaction as its checkpoint; the
-- dispatcher hands it to the configured gateway. OTP codes are never stored here: `otp_salt` lets
-- the dispatcher derive the code with the server key at send time. The `log` gateway records the
-- delivered text in `delivered_text` (it is the fake phone); the HTTP gateway leaves it empty.
CREATE TABLE sms_outbox (
    id              uuid        PRIMARY KEY,
    kind            text        NOT NULL,
    phone_number    text        NOT NULL,
    template        text        NOT NULL,
    params          jsonb       NOT NULL DEFAULT '{}',
    source_position bigint      NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text,
    delivered_text  text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (kind, source_position)
);
CREATE INDEX sms_outbox_pending_idx ON sms_outbox (created_at) WHERE status = 'pending';
ALTER TABLE sms_outbox ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();
