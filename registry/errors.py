"""Exceptions of the registry package.

Hierarchy::

    RegistryError
    ├── DatabaseUnavailableError    no server answers at the URL, or the embedded one won't start
    └── MigrationError              a migration could not be applied
        └── MigrationChecksumError  an applied migration file was edited afterwards
"""

from __future__ import annotations

from schemas.errors import HubError


class RegistryError(HubError):
    """Base of every error raised by the registry package."""


class DatabaseUnavailableError(RegistryError):
    """The registry database cannot be reached."""


class MigrationError(RegistryError):
    """A migration failed; the database stays at the last fully applied version."""


class MigrationChecksumError(MigrationError):
    """A migration that was already applied has been changed on disk."""
