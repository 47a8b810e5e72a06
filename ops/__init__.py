"""Operating the system: what an operator or a developer runs, never imported by the services.

`cli` is the `ringready` command, `embedded` the embedded PostgreSQL and Valkey servers, `runner`
the process runner behind `ringready up`. The library (`shared`) and the services must not import
this package (tests/test_imports.py holds them to it).
"""
