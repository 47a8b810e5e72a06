"""Webhooks out, the parts both the API and the worker use: signing, the address check, the retry
schedule (docs/webhooks.md)."""
