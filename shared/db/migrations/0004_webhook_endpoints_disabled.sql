-- 0004: disabled endpoints (docs/webhooks.md, "Disabling"): when an endpoint was disabled, and the
-- account told about it, whichever statement disables it.

ALTER TABLE webhook_endpoints ADD COLUMN disabled_at timestamptz;  -- NULL while enabled
UPDATE webhook_endpoints SET disabled_at = updated_at WHERE NOT enabled;

-- A trigger rather than a clause in each statement that can disable an endpoint (the worker's
-- attempt recording, the API's PATCH): the notice is then in the same transaction as the disable
-- by construction. Only a disable that comes with a disabled_reason (the failure window) is
-- announced; an account that turned its own endpoint off already knows. The event goes through the
-- outbox like any other, to the account's other enabled endpoints whose filters take it (the
-- disabled one is no longer enabled when the dispatcher fans it out); the agent filter sees the
-- disabled endpoint's own agent filter.
CREATE FUNCTION webhook_endpoint_disabled() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    event_id text := 'msg_' || replace(gen_random_uuid()::text, '-', '');
BEGIN
    IF NEW.enabled THEN
        NEW.disabled_at := NULL;
        RETURN NEW;
    END IF;
    NEW.disabled_at := now();
    IF NEW.disabled_reason IS NULL THEN
        RETURN NEW;
    END IF;
    INSERT INTO webhook_events (event_id, type, account_id, subject, agent_id, payload)
    SELECT event_id, 'webhook_endpoint.disabled', NEW.account_id, 'webhook_endpoint:' || NEW.id,
           NEW.agent_id,
           json_build_object(
               'id', event_id, 'type', 'webhook_endpoint.disabled', 'timestamp', utc_iso8601(now()),
               -- GET /api/v1/webhooks/endpoints/{id}'s body (WebhookEndpoint), never the secrets
               'data', json_build_object(
                   'id', NEW.id, 'url', NEW.url, 'description', NEW.description,
                   'event_types', to_json(NEW.event_types), 'agent_id', NEW.agent_id,
                   'enabled', NEW.enabled, 'disabled_reason', NEW.disabled_reason,
                   'created_at', utc_iso8601(NEW.created_at), 'updated_at', utc_iso8601(NEW.updated_at)))
    -- the rule of every event: only for an account that listens (the row being updated still
    -- reads as enabled here, hence the id test)
    WHERE EXISTS (
        SELECT 1 FROM webhook_endpoints w
        WHERE w.account_id = NEW.account_id AND w.enabled AND w.id <> NEW.id);
    RETURN NEW;
END
$$;

CREATE TRIGGER webhook_endpoints_disabled
    BEFORE UPDATE OF enabled ON webhook_endpoints
    FOR EACH ROW WHEN (OLD.enabled IS DISTINCT FROM NEW.enabled)
    EXECUTE FUNCTION webhook_endpoint_disabled();
