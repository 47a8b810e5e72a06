-- 0006: agents get a row version (the API's ETag and If-Match), and the FAQ keeps the order it was
-- written in.

-- Bumped by a trigger on every UPDATE, whoever writes (the API's PATCH, the operator's suspend, a
-- dashboard), so an ETag derived from it changes whenever the agent does. The API's PATCH checks it
-- in its own WHERE: the check and the write are one statement, never read-then-write.
ALTER TABLE agents ADD COLUMN version bigint NOT NULL DEFAULT 1;

CREATE FUNCTION bump_row_version() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER agents_bump_version BEFORE UPDATE ON agents
    FOR EACH ROW EXECUTE FUNCTION bump_row_version();

-- jsonb stores an object's keys sorted (shortest first), so a FAQ came back in another order than
-- written. json keeps the text as written, and json_build_object embeds it as is (the agent.updated
-- webhook's payload keeps the order too). The existing rows' order is already lost: they keep
-- jsonb's. The API writes the FAQ as msgspec encodes a dict: no duplicate keys, no whitespace.
ALTER TABLE agents ALTER COLUMN faq DROP DEFAULT;
ALTER TABLE agents ALTER COLUMN faq TYPE json USING faq::json;
ALTER TABLE agents ALTER COLUMN faq SET DEFAULT '{}'::json;
