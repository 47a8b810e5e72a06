"""The claim: an arq Worker that claims a whole poll's jobs in one Redis round trip.

arq's own start_jobs claims jobs one at a time (WATCH, EXISTS, ZSCORE, MULTI/PSETEX/EXEC: three
round trips each), which caps a process at a few hundred jobs/s on a small machine. CLAIM_LUA does
the same checks and sets the same in-progress key for every id in one script, atomically, so the
claim rules (not already running, due now, still queued) are unchanged.

This is the one place that relies on arq's internals, as of arq 0.28.0 (arq/worker.py):
- `Worker._poll_iteration` calls `start_jobs(job_ids)` with the due ids of one poll;
- `start_jobs` must, per claimed job, acquire `self.sem`, add one to `self.job_counter`, run
  `self.run_job(job_id, score)` in a task kept in `self.tasks`, and on its completion call
  `self._release_sem_dec_counter_on_complete()` (private: it undoes the semaphore and counter);
- the in-progress key is `in_progress_key_prefix + job_id` with a TTL of `in_progress_timeout_s`.
tests/shared/test_queue_arq_compat.py checks each of these against the installed arq.
"""

from __future__ import annotations

from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker

# KEYS: queue. ARGV: in-progress key prefix, now ms, in-progress TTL ms, job ids...
# Returns the claimed ids, each followed by its score.
CLAIM_LUA = """
local claimed = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], id)
  local key = ARGV[1] .. id
  if score and tonumber(score) <= tonumber(ARGV[2]) and redis.call('EXISTS', key) == 0 then
    redis.call('PSETEX', key, ARGV[3], '1')
    claimed[#claimed + 1] = id
    claimed[#claimed + 1] = score
  end
end
return claimed
"""


class BatchClaimWorker(Worker):
    """arq's Worker with start_jobs done in one round trip per poll."""

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """Claim as many of job_ids as there is room for, then run each in its own task."""
        room = self.max_jobs - self.job_counter
        if room <= 0 or not job_ids:
            return
        ttl_ms = int(self.in_progress_timeout_s * 1000)
        args = [
            in_progress_key_prefix,
            str(timestamp_ms()),
            str(ttl_ms),
            *(i.decode() for i in job_ids[:room]),
        ]
        # redis-py types eval() as "Awaitable | str", whatever the client; an async client awaits.
        claimed = await self.pool.eval(CLAIM_LUA, 1, self.queue_name, *args)  # type: ignore[misc]
        for raw_id, raw_score in zip(claimed[::2], claimed[1::2], strict=True):
            await self.sem.acquire()
            self.job_counter += 1
            job_id = raw_id.decode()
            task = self.loop.create_task(self.run_job(job_id, int(float(raw_score))))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task
