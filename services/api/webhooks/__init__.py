"""/api/v1/webhooks: customers' webhook endpoints and their delivery log (docs/webhooks.md)."""
