"""What a worker process holds between jobs: settings, pool, batcher, summarizer."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from services.worker.batch import Batcher
from services.worker.enrich.summarize import LocalSummarizer, Summarizer
from shared.config import Settings

STATE_CTX = "worker_state"
BATCH_MAX_ROWS = 500


@dataclass
class WorkerState:
    """Resources shared by every job of one worker process."""

    settings: Settings
    pool: asyncpg.Pool
    batcher: Batcher
    summarizer: Summarizer

    @property
    def job_budget_s(self) -> float:
        """Our own deadline, inside arq's job_timeout: arq's timeout would drop the job."""
        return max(1.0, self.settings.job_timeout_s - 2.0)


def summarizer_for(settings: Settings) -> Summarizer:
    """The configured summarizer; only the local one exists so far."""
    return LocalSummarizer()


def build_state(settings: Settings, pool: asyncpg.Pool) -> WorkerState:
    """Everything a job needs, built once per process."""
    batcher = Batcher(pool, wait_s=settings.worker_batch_ms / 1000, max_rows=BATCH_MAX_ROWS)
    return WorkerState(settings, pool, batcher, summarizer_for(settings))
