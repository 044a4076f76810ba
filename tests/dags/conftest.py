"""Markers of the DAG tests that need more than PostgreSQL."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "celery: runs the DAGs on CeleryExecutor with two local workers (needs Redis on 6379)")
