"""Webhooks out, the worker's half: the dispatcher that fans events out and hands due deliveries to
jobs, and the job that POSTs one delivery (docs/webhooks.md)."""
