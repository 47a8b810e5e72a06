-- 0002: started_at/ended_at also stored as the API's text, rendered once on write, not per read.
--
-- Building two Python datetimes per listed row was ~18 % of a list request's instructions (callgrind);
-- reading a stored string costs the API a short ASCII decode, and Postgres a few bytes per row.
-- The text is exactly how msgspec encodes an aware UTC datetime: YYYY-MM-DDTHH:MM:SSZ, with
-- .ffffff (six digits) before the Z only when the microseconds are not zero.
-- tests/shared/test_iso_times.py holds this to msgspec's output for 100,000 instants.

-- to_char is STABLE only because some patterns (TM...) follow lc_time; these patterns are all
-- numeric and the zone is fixed, so the result depends on ts alone, as IMMUTABLE promises.
-- An infinite timestamp gives NULL, which the NOT NULL columns below refuse.
CREATE FUNCTION utc_iso8601(ts timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT CASE
        WHEN NOT isfinite(ts) THEN NULL
        WHEN date_part('microseconds', ts)::int8 % 1000000 = 0
            THEN to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
        ELSE to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
    END
$$;

ALTER TABLE conversations
    ADD COLUMN started_at_iso text NOT NULL GENERATED ALWAYS AS (utc_iso8601(started_at)) STORED,
    ADD COLUMN ended_at_iso   text NOT NULL GENERATED ALWAYS AS (utc_iso8601(ended_at)) STORED;
