"""Every ringready_* series in one registry. Labels take a bounded set of values only (route
templates, known sources, outcomes), never a path, a key or anything a client chooses."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

# Every series is labelled: a labelled series creates its value on first use, after start-up has
# chosen single- or multi-process storage (exposition.share_between_processes).
REGISTRY = CollectorRegistry(auto_describe=True)
# From 1 ms (a cached API read) to 10 s (a webhook waiting on a slow Redis).
LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter(
    "ringready_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ("route", "method", "status"),
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "ringready_http_request_duration_seconds",
    "Time from the middleware's start to the response, by route template and method.",
    ("route", "method"),
    buckets=LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
# Per process: live gauges vanish with their process (exposition.forget_this_process).
HTTP_IN_FLIGHT = Gauge(
    "ringready_http_requests_in_flight",
    "Requests whose handler is running (reading the body, or working), by route template and method,"
    " summed over the service's processes. After SIGTERM: what the drain still waits for.",
    ("route", "method"),
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
WEBHOOKS = Counter(
    "ringready_webhooks",
    "Webhooks received by the ingest, by source and outcome (queued, ignored, or why refused).",
    ("source", "outcome"),
    registry=REGISTRY,
)
JOBS = Counter(
    "ringready_jobs",
    "store_conversation runs, by outcome (stored, duplicate, a dead letter's reason, or retry).",
    ("outcome",),
    registry=REGISTRY,
)
JOB_LATENCY = Histogram(
    "ringready_job_duration_seconds",
    "store_conversation run time, by outcome.",
    ("outcome",),
    buckets=LATENCY_BUCKETS_S,
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    "ringready_dead_letters",
    "Events written to dead_letters, by reason.",
    ("reason",),
    registry=REGISTRY,
)
WEBHOOK_ENDPOINTS_DISABLED = Counter(
    "ringready_webhook_endpoints_disabled",
    "Webhook endpoints the worker disabled, by reason (failure_window: nothing but failures for"
    " RINGREADY_WEBHOOK_DISABLE_AFTER_S).",
    ("reason",),
    registry=REGISTRY,
)
RATE_LIMIT_DECISIONS = Counter(
    "ringready_rate_limit_decisions",
    "The API limiter's decisions, by policy (default: a key; ip), decision and where it was made"
    " (each process adds its own at a scrape and every few seconds).",
    ("policy", "decision", "source"),
    registry=REGISTRY,
)
PG_POOL = Gauge(
    "ringready_pg_pool_connections",
    "The API's Postgres connections, summed over its processes: size (configured), open, in_use.",
    ("state",),
    multiprocess_mode="livesum",
    registry=REGISTRY,
)
LIMITER_REDIS_STATE = Gauge(
    "ringready_rate_limiter_redis_state",
    "1 for the limiter's Redis state (healthy, degraded: in-process fallback, probing), else 0.",
    ("state",),
    multiprocess_mode="liveall",
    registry=REGISTRY,
)

_requests: dict[tuple[str, str, int], Counter] = {}
_latencies: dict[tuple[str, str], Histogram] = {}
_in_flight: dict[tuple[str, str], Gauge] = {}


def in_flight(route: str, method: str) -> Gauge:
    """The in-flight gauge of one route and method (cached, as in observe_request)."""
    gauge = _in_flight.get((route, method))
    if gauge is None:
        gauge = _in_flight[(route, method)] = HTTP_IN_FLIGHT.labels(route, method)
    return gauge


def observe_request(route: str, method: str, status: int, seconds: float) -> None:
    """One counter increment and one histogram observation; the labelled children are cached
    here because prometheus_client's labels() costs more than the increment itself."""
    key = (route, method, status)
    counter = _requests.get(key)
    if counter is None:
        counter = _requests[key] = HTTP_REQUESTS.labels(route, method, str(status))
    counter.inc()
    latency = _latencies.get((route, method))
    if latency is None:
        latency = _latencies[(route, method)] = HTTP_LATENCY.labels(route, method)
    latency.observe(seconds)


def set_state(gauge: Gauge, states: tuple[str, ...], current: str) -> None:
    """A state gauge: 1 for the current state, 0 for the others."""
    for state in states:
        gauge.labels(state).set(1 if state == current else 0)
