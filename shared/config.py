"""Settings: one frozen Struct, read from RINGREADY_* environment variables exactly once.

This is the only module that reads ``os.environ``. Everything else receives a
``Settings`` instance; tests build one directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Annotated, Literal, get_origin

import msgspec

PREFIX = "RINGREADY_"

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
PositiveInt = Annotated[int, msgspec.Meta(ge=1)]
PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]


class ConfigError(Exception):
    """Start-up configuration is wrong; the message names the variable."""


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every knob of every service; the README's configuration table mirrors this."""

    # Servers. Empty means "start the embedded one under data_dir".
    database_url: str = ""
    # A streaming replica for the API's reads; empty: they go to database_url (docs/operations.md).
    database_read_url: str = ""
    redis_url: str = ""
    data_dir: str = ".ringready"
    # Redis high availability (docs/operations.md): with sentinels (host:port, ...) every client
    # asks them for the primary named `redis_sentinel_master`; redis_url then gives only the
    # password and database. Empty: redis_url's server, as is.
    redis_sentinels: tuple[str, ...] = ()
    redis_sentinel_master: str = "ringready"
    # With sentinels: replicas that must hold an enqueue before the ingest's 2xx (WAIT), and how
    # long to wait for them before answering 503. 0: no wait (an acked job can vanish in a failover).
    redis_wait_replicas: Annotated[int, msgspec.Meta(ge=0)] = 1
    redis_wait_timeout_ms: PositiveInt = 1000

    # HTTP services.
    api_host: str = "127.0.0.1"
    api_port: Port = 8080
    api_processes: PositiveInt = 1
    ingest_host: str = "127.0.0.1"
    ingest_port: Port = 8081
    ingest_processes: PositiveInt = 1
    max_body_bytes: PositiveInt = 1_048_576
    # Connection deadlines (docs/operations.md, "The HTTP edge").
    header_timeout_s: PositiveFloat = 10.0  # first byte of a request to the end of its headers
    body_timeout_s: PositiveFloat = 30.0  # the handler starts to the last byte of the body
    keepalive_timeout_s: PositiveFloat = 75.0  # an idle connection, fresh or between requests
    # SIGTERM to exit: what is in flight (requests, jobs) gets this long (docs/RELIABILITY.md).
    shutdown_timeout_s: PositiveInt = 20

    # Logging.
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["auto", "json", "console"] = "auto"

    # Postgres pool.
    pg_pool_min: Annotated[int, msgspec.Meta(ge=0)] = 1
    pg_pool_max: PositiveInt = 10

    # Webhook verification. Lists are comma-separated; several entries allow secret rotation.
    webhook_secrets: tuple[str, ...] = ()  # Standard Webhooks whsec_... for native phone/web-chat
    webhook_tolerance_s: PositiveInt = 300
    vapi_secrets: tuple[str, ...] = ()  # X-Vapi-Secret shared tokens
    vapi_hmac_secrets: tuple[str, ...] = ()  # Vapi HMAC credential secrets (sha256, hex, x-signature)
    retell_api_keys: tuple[str, ...] = ()  # Retell API keys with the webhook badge
    elevenlabs_secrets: tuple[str, ...] = ()  # ElevenLabs HMAC webhook secrets

    # Worker and queue.
    queue_name: str = "ringready:queue"
    worker_max_jobs: PositiveInt = 200
    job_timeout_s: PositiveInt = 20
    job_max_tries: PositiveInt = 5
    worker_batch_ms: Annotated[int, msgspec.Meta(ge=0)] = 5
    health_check_interval_s: PositiveInt = 30
    # The worker's GET /metrics (it has no other HTTP server); 0 turns it off.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8082
    sweep_interval_s: PositiveInt = 30

    # Webhooks out (docs/webhooks.md): customers' endpoints, signed deliveries, retries.
    webhook_allow_http: bool = False  # plain http endpoints, for local use only
    webhook_allow_loopback: bool = False  # endpoints on 127.0.0.1/::1 (local use and tests)
    webhook_retry_scale: PositiveFloat = 1.0  # multiplies the retry schedule; tests shrink it
    webhook_disable_after_s: PositiveFloat = 432_000.0  # 5 days of nothing but failures: disabled
    webhook_endpoint_concurrency: PositiveInt = 4  # deliveries in flight per endpoint, all workers
    webhook_dispatch_interval_ms: PositiveInt = 200  # how often a worker looks for due deliveries

    # Developer API: plans are configuration (name=requests per minute).
    plans: dict[str, PositiveInt] = msgspec.field(
        default_factory=lambda: {"free": 60, "growth": 120, "pro": 300, "agency": 1000}
    )
    default_plan: str = "free"
    ip_rate_limit_per_min: PositiveInt = 30
    export_rows_per_min: PositiveInt = 300_000  # per account, all its keys and exports together
    rate_limit_timeout_ms: PositiveInt = 250
    key_cache_ttl_s: PositiveFloat = 60.0
    last_used_flush_s: PositiveFloat = 5.0

    def __post_init__(self) -> None:
        if self.pg_pool_min > self.pg_pool_max:
            raise ValueError("pg_pool_min must not exceed pg_pool_max")
        if self.default_plan not in self.plans:
            raise ValueError(f"default_plan {self.default_plan!r} is not one of plans")
        for address in self.redis_sentinels:
            host, _, port = address.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"{PREFIX}REDIS_SENTINELS: expected host:port, got {address!r}")

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """redis_sentinels as (host, port) pairs; empty without sentinels."""
        return [(host, int(port)) for host, _, port in (a.rpartition(":") for a in self.redis_sentinels)]


_LIST_FIELDS = frozenset(
    field.name for field in msgspec.structs.fields(Settings) if get_origin(field.type) is tuple
)
_DICT_FIELDS = frozenset({"plans"})


def _parse_value(name: str, raw: str) -> object:
    """Turn one environment string into what msgspec.convert expects for that field."""
    if name in _LIST_FIELDS:
        return tuple(item.strip() for item in raw.split(",") if item.strip())
    if name in _DICT_FIELDS:
        pairs: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in raw.split(","))):
            plan, sep, limit = item.partition("=")
            if not sep:
                raise ConfigError(f"{PREFIX}{name.upper()}: expected name=number pairs, got {item!r}")
            pairs[plan.strip()] = limit.strip()
        return pairs
    return raw


def from_env(environ: Mapping[str, str] | None = None) -> Settings:
    """Build Settings from RINGREADY_* variables; unknown or malformed ones stop start-up."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {}
    for key, value in env.items():
        if not key.startswith(PREFIX):
            continue
        name = key[len(PREFIX) :].lower()
        if name not in Settings.__struct_fields__:
            raise ConfigError(f"unknown setting {key}; see the configuration table in README.md")
        raw[name] = _parse_value(name, value)
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as err:
        raise ConfigError(f"invalid setting: {_env_name(str(err))}") from None


def _env_name(message: str) -> str:
    """Rewrite msgspec's `$.field` path into the environment variable's name."""
    if "`$." not in message:
        return message
    head, _, rest = message.partition("`$.")
    field, _, tail = rest.partition("`")
    name = field.split(".")[0].split("[")[0]
    return f"{head}{PREFIX}{name.upper()}{tail}"
