"""Prometheus metrics (docs/operations.md, "Metrics"): the series every service reports, and how a
scrape renders them, one process or several sharing a port.

- `series`: every `ringready_*` series, and the cheap helpers the hot paths call;
- `exposition`: GET /metrics, multiprocess mode, scrape-time readers, the worker's metrics server;
- `queue`: the queue's depth and oldest job's age, read from Redis at scrape time.
"""
