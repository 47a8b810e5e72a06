-- 0003: webhooks out (docs/webhooks.md): customers' endpoints, the outbox of events, and the
-- delivery log (one delivery per event and endpoint, every attempt kept).

CREATE TABLE webhook_endpoints (
    id                         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id                 bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url                        text        NOT NULL,
    description                text        NOT NULL DEFAULT '',
    event_types                text[]      NOT NULL DEFAULT '{}',  -- empty: every event type
    agent_id                   bigint      REFERENCES agents (id) ON DELETE CASCADE,  -- NULL: every agent
    enabled                    boolean     NOT NULL DEFAULT true,
    disabled_reason            text,
    secret                     text        NOT NULL,  -- whsec_...: signs every delivery
    previous_secret            text,  -- the rotated-out secret, still signing until it expires
    previous_secret_expires_at timestamptz,
    failing_since              timestamptz,  -- first failure with no success since; NULL when healthy
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_endpoints_account_idx ON webhook_endpoints (account_id, id);
-- The worker's "does this account listen at all?" check, on every stored batch.
CREATE INDEX webhook_endpoints_enabled_idx ON webhook_endpoints (account_id) WHERE enabled;

-- The outbox: written in the same transaction as the change it describes.
CREATE TABLE webhook_events (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- commit order within a subject
    event_id         text        NOT NULL UNIQUE DEFAULT 'msg_' || replace(gen_random_uuid()::text, '-', ''),
    type             text        NOT NULL,  -- conversation.created | conversation.updated | agent.updated | test
    account_id       bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    subject          text        NOT NULL,  -- 'conversation:<id>' or 'agent:<id>': what ordering follows
    agent_id         bigint,
    endpoint_id      bigint      REFERENCES webhook_endpoints (id) ON DELETE CASCADE,  -- test events only
    payload          json        NOT NULL,  -- json, not jsonb: the exact bytes signed and sent
    created_at       timestamptz NOT NULL DEFAULT now(),
    dispatched_at    timestamptz  -- fanned out to the matching endpoints
);
CREATE INDEX webhook_events_undispatched_idx ON webhook_events (id) WHERE dispatched_at IS NULL;
CREATE INDEX webhook_events_created_idx ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         bigint      NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    endpoint_id      bigint      NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    subject          text        NOT NULL,  -- the event's, copied: the ordering check reads one table
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         integer     NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    leased_until     timestamptz,  -- handed to a job until then; a lost job's lease just expires
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_event_endpoint_key UNIQUE (event_id, endpoint_id)
);
-- The dispatcher's walk: an endpoint's pending deliveries in event order.
CREATE INDEX webhook_deliveries_pending_idx
    ON webhook_deliveries (endpoint_id, event_id) WHERE status = 'pending';
-- "Is an earlier delivery of this subject to this endpoint still pending?" (ordering).
CREATE INDEX webhook_deliveries_order_idx
    ON webhook_deliveries (endpoint_id, subject, event_id) WHERE status = 'pending';
-- How many an endpoint has in flight (its concurrency cap).
CREATE INDEX webhook_deliveries_leased_idx
    ON webhook_deliveries (endpoint_id, leased_until) WHERE status = 'pending' AND leased_until IS NOT NULL;
CREATE INDEX webhook_deliveries_log_idx ON webhook_deliveries (endpoint_id, id DESC);

CREATE TABLE webhook_attempts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id    bigint      NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempted_at   timestamptz NOT NULL DEFAULT now(),
    status_code    integer,  -- NULL: no HTTP answer (refused, timed out, blocked address)
    latency_ms     integer     NOT NULL,
    response_body  text        NOT NULL DEFAULT '',  -- the first 1 KiB, decoded leniently
    error          text
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
