-- 0001: accounts, keys, agents, conversations (list data apart from transcripts), dead letters.

CREATE TABLE accounts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- the API's user_id
    email       text        NOT NULL,
    plan        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX accounts_email_key ON accounts (lower(email));

CREATE TABLE api_keys (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id          bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    prefix              text        NOT NULL UNIQUE,  -- display prefix, e.g. rr_live_8f3a
    key_hash            bytea       NOT NULL UNIQUE,  -- sha256 of the full key; the key itself is never stored
    name                text        NOT NULL,
    scopes              text[]      NOT NULL CHECK (scopes <@ ARRAY['read', 'write']::text[]),
    rate_limit_per_min  integer     CHECK (rate_limit_per_min > 0),  -- per-key override of the plan
    created_at          timestamptz NOT NULL DEFAULT now(),
    last_used_at        timestamptz,
    revoked_at          timestamptz
);
CREATE INDEX api_keys_account_idx ON api_keys (account_id, id);

CREATE TABLE agents (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id           bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    phone_number         text        UNIQUE,  -- E.164; routes inbound calls to this agent
    subscription_type    text        NOT NULL DEFAULT 'growth',
    agent_name           text        NOT NULL DEFAULT 'Ava',
    voice                text        NOT NULL DEFAULT 'friendly',
    greeting_message     text,
    agent_goal           text        NOT NULL,
    business_name        text        NOT NULL,
    business_website     text,
    business_services    text        NOT NULL,
    faq                  jsonb       NOT NULL DEFAULT '{}'::jsonb,
    appointment_booking  jsonb       NOT NULL
        DEFAULT '{"sms_enabled": false, "sms_url": null, "sms_purpose": null}'::jsonb,
    features             jsonb       NOT NULL
        DEFAULT '{"web_chat_enabled": true, "live_context_enabled": false, "webhook_enabled": false, "webhook_url": null}'::jsonb,
    is_suspended         boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX agents_account_idx ON agents (account_id, id);

-- Provider-side assistant/agent ids (Vapi assistantId, Retell agent_id, ElevenLabs agent_id).
CREATE TABLE agent_provider_ids (
    source                 text   NOT NULL,
    provider_assistant_id  text   NOT NULL,
    agent_id               bigint NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    PRIMARY KEY (source, provider_assistant_id)
);

-- The list data: exactly what GET /conversations returns, and nothing heavy.
CREATE TABLE conversations (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    agent_id          bigint      NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    channel           text        NOT NULL CHECK (channel IN ('phone', 'web_chat')),
    source            text        NOT NULL,  -- phone | web_chat | vapi | retell | elevenlabs
    provider_call_id  text        NOT NULL,
    from_number       text,
    to_number         text,
    caller_name       text,
    label             text,
    summary           text,
    started_at        timestamptz NOT NULL,
    ended_at          timestamptz NOT NULL,
    duration_seconds  integer     NOT NULL CHECK (duration_seconds >= 0),
    end_reason        text        NOT NULL,  -- normalised (docs/ingest.md lists the set)
    end_reason_raw    text,
    is_archived       boolean     NOT NULL DEFAULT false,
    is_viewed         boolean     NOT NULL DEFAULT false,
    device_type       text,  -- web_chat only
    origin_url        text,  -- web_chat only
    event_rank        smallint    NOT NULL,  -- how complete the stored event is; higher wins
    event_at          timestamptz NOT NULL,  -- when the provider produced the stored event
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT conversations_source_call_key UNIQUE (source, provider_call_id)
);
-- Keyset pagination: newest first by (started_at, id), one index per filter shape.
CREATE INDEX conversations_account_idx
    ON conversations (account_id, started_at DESC, id DESC);
CREATE INDEX conversations_account_channel_idx
    ON conversations (account_id, channel, started_at DESC, id DESC);
CREATE INDEX conversations_account_agent_idx
    ON conversations (account_id, agent_id, started_at DESC, id DESC);
CREATE INDEX conversations_account_agent_channel_idx
    ON conversations (account_id, agent_id, channel, started_at DESC, id DESC);

-- The detail data, kept apart so the list query never reads it.
CREATE TABLE conversation_details (
    conversation_id    bigint PRIMARY KEY REFERENCES conversations (id) ON DELETE CASCADE,
    transcript         jsonb  NOT NULL,  -- [{role, content, elapsed_s, raw_role}]
    recording_url      text,
    visitor_ip         text,  -- web_chat only; never in the list
    provider_metadata  jsonb  NOT NULL DEFAULT '{}'::jsonb,
    raw_body           bytea  NOT NULL  -- the webhook as received, for re-processing
);

-- Events that could not be stored: kept with their reason and raw body, replayable.
CREATE TABLE dead_letters (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id            text,
    source            text        NOT NULL,
    provider_call_id  text,
    reason            text        NOT NULL,  -- no_agent | agent_suspended | invalid | failed | max_tries | expired
    detail            text        NOT NULL DEFAULT '',
    payload           bytea       NOT NULL,  -- the queued job payload (canonical event + raw body)
    created_at        timestamptz NOT NULL DEFAULT now(),
    replayed_at       timestamptz,
    replay_count      integer     NOT NULL DEFAULT 0
);
CREATE INDEX dead_letters_open_idx ON dead_letters (id) WHERE replayed_at IS NULL;
