"""The pull's encoding gate: text decoded with the wrong code page never reaches staging.

Each source record's text as sent is checked (``SourceRecord.texts``: its text nodes, attribute values or
JSON strings; ``mapper.encoding.misdecoding`` pools the evidence of all of them) before its mapping's
verdict, so a record whose garbled text also fails validation still counts. A record that fails is
quarantined as ``encoding_mismatch`` with the suspected encodings named. When at least ``PAYLOAD_SHARE``
of the records that carry non-ASCII text fail, the encoding of the whole payload is wrong (a file
declaring koi8-r whose bytes are windows-1251): the pipeline then undoes what it staged from that payload
and quarantines the payload as a whole.
"""

from __future__ import annotations

from collections import Counter

from mapper.encoding import misdecoding
from mapper.readers import SourceRecord

PAYLOAD_SHARE = 0.5


class EncodingGate:
    """Counts, per payload, the records with text and those whose text was mis-decoded."""

    def __init__(self) -> None:
        self.with_text = 0
        self.reasons: Counter[str] = Counter()

    def check(self, item: SourceRecord) -> str | None:
        """A PII-free reason when ``item``'s text was decoded with the wrong code page, else None."""
        values = item.texts
        if not values:
            return None
        self.with_text += 1
        reason = misdecoding(values)
        if reason is not None:
            self.reasons[reason] += 1
        return reason

    def payload_reason(self) -> str | None:
        """Why the whole payload is refused, when enough of its records failed."""
        failed = sum(self.reasons.values())
        if not failed or failed < PAYLOAD_SHARE * self.with_text:
            return None
        reason, _ = self.reasons.most_common(1)[0]
        return f"{failed} of {self.with_text} records with text: {reason}; the payload's encoding is wrong"
