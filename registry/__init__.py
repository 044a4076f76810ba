"""The shared PostgreSQL registry: connection (``db``), migrations (``migrate``), maintenance jobs.

Tables are described in ``docs/registry.md``.
"""
