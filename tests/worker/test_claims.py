"""The one-round-trip claim keeps arq's rules: not running elsewhere, due now, still queued."""

from __future__ import annotations

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms

from services.worker.claims import CLAIM_LUA
from shared.config import Settings


async def test_claims_only_due_jobs_not_running_elsewhere(settings: Settings, arq_pool: ArqRedis) -> None:
    for job_id in ("due", "running", "deferred"):
        await arq_pool.enqueue_job(
            "store_conversation", b"x", _job_id=job_id, _defer_by=60 if job_id == "deferred" else None
        )
    await arq_pool.psetex(in_progress_key_prefix + "running", 10_000, b"1")
    args = [in_progress_key_prefix, str(timestamp_ms()), "15000", "due", "running", "deferred", "finished"]
    claimed = await arq_pool.eval(CLAIM_LUA, 1, settings.queue_name, *args)  # type: ignore[misc]
    assert claimed[::2] == [b"due"]
    assert float(claimed[1]) == await arq_pool.zscore(settings.queue_name, "due")
    assert 14_000 < await arq_pool.pttl(in_progress_key_prefix + "due") <= 15_000
    assert await arq_pool.exists(in_progress_key_prefix + "deferred") == 0
    assert await arq_pool.exists(in_progress_key_prefix + "finished") == 0
