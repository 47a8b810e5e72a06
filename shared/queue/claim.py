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
- the in-progress key is `in_progress_key_prefix + job_id`; arq gives it one TTL for every job,
  `in_progress_timeout_s` (the longest function timeout + 10 s). Ours gives a conversation job its
  own timeout + 10 s instead, so a slow job kind (webhook deliveries wait up to 15 s on a customer)
  does not delay the re-run of a killed worker's conversations.
tests/shared/test_queue_arq_compat.py checks each of these against the installed arq.
"""

from __future__ import annotations

from arq.constants import in_progress_key_prefix
from arq.utils import timestamp_ms
from arq.worker import Worker

from shared.queue.format import STORE_CONVERSATION_JOB
from shared.queue.job_ids import JOB_ID_PREFIX

CONVERSATION_JOB_PREFIX = JOB_ID_PREFIX + ":"
IN_PROGRESS_EXTRA_S = 10  # what arq adds to a job timeout for its in-progress key

# KEYS: queue. ARGV: in-progress key prefix, now ms, then per job: its id, its in-progress TTL ms.
# Returns the claimed ids, each followed by its score.
CLAIM_LUA = """
local claimed = {}
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  local score = redis.call('ZSCORE', KEYS[1], id)
  local key = ARGV[1] .. id
  if score and tonumber(score) <= tonumber(ARGV[2]) and redis.call('EXISTS', key) == 0 then
    redis.call('PSETEX', key, ARGV[i + 1], '1')
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
        args = [in_progress_key_prefix, str(timestamp_ms())]
        for raw_id in job_ids[:room]:
            job_id = raw_id.decode()
            args += [job_id, str(self.in_progress_ttl_ms(job_id))]
        # redis-py types eval() as "Awaitable | str", whatever the client; an async client awaits.
        claimed = await self.pool.eval(CLAIM_LUA, 1, self.queue_name, *args)  # type: ignore[misc]
        for raw_id, raw_score in zip(claimed[::2], claimed[1::2], strict=True):
            await self.sem.acquire()
            self.job_counter += 1
            job_id = raw_id.decode()
            task = self.loop.create_task(self.run_job(job_id, int(float(raw_score))))
            task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
            self.tasks[job_id] = task

    def in_progress_ttl_ms(self, job_id: str) -> int:
        """How long a claim holds the job: its own function's timeout + 10 s for a conversation,
        arq's longest-function rule for the rest (their function is known only once it is read)."""
        conversation = self.functions.get(STORE_CONVERSATION_JOB)
        if conversation is not None and job_id.startswith(CONVERSATION_JOB_PREFIX):
            timeout_s = conversation.timeout_s or self.job_timeout_s
            return int((timeout_s + IN_PROGRESS_EXTRA_S) * 1000)
        return int(self.in_progress_timeout_s * 1000)
