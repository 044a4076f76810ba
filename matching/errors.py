"""Exceptions of the matching package.

Hierarchy::

    MatchingError
    ├── StewardError    a steward action that cannot be done (unknown item, already decided, …)
    └── TrainingError   the person model cannot be fitted on the records at hand
"""

from __future__ import annotations

from schemas.errors import HubError


class MatchingError(HubError):
    """Base of every error raised by the matching package."""


class StewardError(MatchingError):
    """A steward action that cannot be done (unknown item, already decided, record not in that person)."""


class TrainingError(MatchingError):
    """The model cannot be fitted (too few records, a parameter that does not converge); names no value."""
