"""GET /api/v1/conversations/export: an account's conversations as NDJSON or CSV, streamed."""
