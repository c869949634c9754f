-- The event store. postgres-es reads these columns by name; the extra columns give the ordered feed
-- its position (global_position) and its commit-safe horizon (tx_id: the feed reads only below the oldest transaction still open).
CREATE TABLE events (
    global_position bigserial   NOT NULL,
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    aggregate_type  text        NOT NULL,
    aggregate_id    text        NOT NULL,
    sequence        bigint      NOT NULL CHECK (sequence >= 0),
    event_type      text        NOT NULL,
    event_version   text        NOT NULL,
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL,
    -- The optimistic-lock signal: two commands appending the same sequence to one aggregate.
    CONSTRAINT events_pkey PRIMARY KEY (aggregate_type, aggregate_id, sequence),
    CONSTRAINT events_global_position_key UNIQUE (global_position)
);
CREATE INDEX events_feed_idx ON events (tx_id, global_position);

-- Unused in event-store mode but created so postgres-es's repository is complete.
CREATE TABLE snapshots (
    aggregate_type   text   NOT NULL,
    aggregate_id     text   NOT NULL,
    last_sequence    bigint NOT NULL CHECK (last_sequence >= 0),
    current_snapshot bigint NOT NULL CHECK (current_snapshot >= 0),
    payload          jsonb  NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence)
);

-- One row per command that carried an Idempotency-Key, written in the append transaction.
CREATE TABLE processed_commands (
    command_id     text        PRIMARY KEY,
    request_hash   text        NOT NULL,
    aggregate_type text        NOT NULL,
    aggregate_id   text        NOT NULL,
    last_sequence  bigint      NOT NULL,
    response       jsonb,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- Checkpoints of the durable feed subscribers, updated in the same transaction as their writes.
CREATE TABLE subscriber_checkpoints (
    name          text        PRIMARY KEY,
    last_tx       xid8        NOT NULL DEFAULT '0',
    last_position bigint      NOT NULL DEFAULT 0,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
