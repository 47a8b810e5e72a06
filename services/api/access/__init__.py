"""Who an API key is and whether its request may run: the API's access control.

gate.py: the middleware and its one entry point `decide(request)` (the key, its cache, the
scope); limiter.py: the per-key and per-IP sliding windows in Redis (window.lua); health.py: when
to skip Redis; local.py: the in-process window used meanwhile; contexts.py: the resources.
"""
