"""Who lives with whom now: person record → current households, household → current members.

The person step asks this for a few records only (tonight's, and both sides of each review pair, for
family support). A first night builds it from every membership at once; an incremental night fetches the
memberships of the records it is asked about, then their households' members (indexed lookups), so it
never reads the whole membership table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from matching.store import Conn, MembershipRow
from registry import households as hh


class HouseholdIndex:
    """Current (not ended) memberships, indexed both ways; ``conn``: fetch what is asked and not known."""

    def __init__(self, memberships: Iterable[MembershipRow], conn: Conn | None = None) -> None:
        self._of: dict[str, set[str]] = defaultdict(set)
        self._members: dict[str, set[str]] = defaultdict(set)
        self._roles: dict[tuple[str, str], str] = {}
        self._conn = conn
        self._known: set[str] = set()
        self._add(memberships)

    def _add(self, memberships: Iterable[MembershipRow]) -> None:
        for m in memberships:
            if not m.period_to:
                self._of[m.person_key].add(m.household_key)
                self._members[m.household_key].add(m.person_key)
                self._roles[(m.person_key, m.household_key)] = m.role

    def load(self, person_keys: Iterable[str]) -> None:
        """Make sure the households of ``person_keys`` and all their members are known."""
        wanted = set(person_keys) - self._known
        if self._conn is None or not wanted:
            return
        self._known |= wanted
        found = hh.memberships_of(self._conn, persons=wanted)
        self._add(found)
        households = {m.household_key for m in found if not m.period_to}
        self._add(hh.memberships_of(self._conn, households=households))

    def of(self, person_key: str) -> set[str]:
        return self._of.get(person_key, set())

    def members(self, household: str) -> set[str]:
        return self._members.get(household, set())

    def role(self, person_key: str, household: str) -> str | None:
        """The person's role in the household (``schemas.codes.MembershipRole``), None when not a member."""
        return self._roles.get((person_key, household))
