"""The registry connection of one request: the app's own database URL (a test's), else the hub's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2.extensions
from starlette.requests import HTTPConnection

from registry.db import connect


@contextmanager
def registry(request: HTTPConnection) -> Iterator[psycopg2.extensions.connection]:
    with connect(getattr(request.app.state, "database_url", None)) as conn:
        yield conn
