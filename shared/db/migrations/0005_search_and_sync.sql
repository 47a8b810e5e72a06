-- 0005: full-text search (`q=`) and incremental sync (GET /api/v1/conversations/sync), docs/api.md.

-- change_xid: the transaction that last wrote the row (the worker's upsert sets it again on every
-- update). Sync reads only rows below its snapshot's xmin, where every transaction has finished, in
-- (change_xid, id) order: a write that commits late can't appear behind a cursor already handed out.
-- The volatile default rewrites the table once and stamps every existing row with this migration's
-- transaction: that is the backfill (they come first in a sync, in id order).
ALTER TABLE conversations ADD COLUMN change_xid xid8 NOT NULL DEFAULT pg_current_xact_id();
-- Sync walks one account's changes in order; the list filters (agent_id, channel) are checked on
-- the rows it walks.
CREATE INDEX conversations_account_change_idx ON conversations (account_id, change_xid, id);

-- What `q=` searches, as generated columns: every writer (the worker's upsert, a backfill, a test's
-- INSERT) gets them without knowing, and adding them computes them for the existing rows.
-- 'simple' configuration: no stemming and no stop words, so any language works, word for word.
-- The list's row: caller name, label and summary.
ALTER TABLE conversations ADD COLUMN search_document tsvector NOT NULL GENERATED ALWAYS AS (
    to_tsvector('simple', coalesce(caller_name, '') || ' ' || coalesce(label, '') || ' ' || coalesce(summary, ''))
) STORED;
CREATE INDEX conversations_search_idx ON conversations USING gin (search_document);
-- The transcript: the turns' content only (not their roles, which every conversation has).
ALTER TABLE conversation_details ADD COLUMN transcript_document tsvector NOT NULL GENERATED ALWAYS AS (
    jsonb_to_tsvector('simple', jsonb_path_query_array(transcript, '$[*].content'), '["string"]')
) STORED;
CREATE INDEX conversation_details_search_idx ON conversation_details USING gin (transcript_document);
