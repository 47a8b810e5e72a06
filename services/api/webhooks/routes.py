"""Every /api/v1/webhooks route (GET needs the `read` scope, the others `write`)."""

from __future__ import annotations

from aiohttp import web

from services.api.webhooks import deliveries, endpoints

ENDPOINTS = "/api/v1/webhooks/endpoints"
DELIVERIES = "/api/v1/webhooks/deliveries"


def add_webhook_routes(app: web.Application) -> None:
    """Endpoints, their secrets and test events, and the delivery log."""
    router = app.router
    router.add_post(ENDPOINTS, endpoints.create_handler)
    router.add_get(ENDPOINTS, endpoints.list_handler)
    router.add_get(ENDPOINTS + "/{id}", endpoints.detail_handler)
    router.add_patch(ENDPOINTS + "/{id}", endpoints.update_handler)
    router.add_delete(ENDPOINTS + "/{id}", endpoints.delete_handler)
    router.add_post(ENDPOINTS + "/{id}/rotate-secret", endpoints.rotate_handler)
    router.add_post(ENDPOINTS + "/{id}/test", endpoints.test_event_handler)
    router.add_post(ENDPOINTS + "/{id}/recover", deliveries.recover_handler)
    router.add_get(ENDPOINTS + "/{id}/deliveries", deliveries.list_handler)
    router.add_get(DELIVERIES + "/{id}", deliveries.detail_handler)
    router.add_post(DELIVERIES + "/{id}/retry", deliveries.retry_handler)
