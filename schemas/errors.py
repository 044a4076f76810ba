"""The hub's one exception tree: every error the hub raises on purpose is a ``HubError``.

It lives in ``schemas`` because every package imports ``schemas`` (imports go one way: schemas ← mapper ←
connectors → registry ← matching), so each package roots its own errors here. A ``HubError`` message is
written for an operator: it names the field, the value's *shape* or the count — never a personal value —
which is why the ``hub`` command prints it as it is (``error: …``, exit 1) and anything else only as its
class and place.

Hierarchy::

    HubError
    ├── MapperError                    mapper/errors.py
    │   ├── MappingSpecError           the mapping file itself is wrong (file, line, key)
    │   ├── PathSyntaxError            a path in a mapping does not compile
    │   └── RecordMappingError         one source record could not be mapped (a quarantine reason)
    │       ├── FieldMappingError      a field's path or transform failed (field, never the value)
    │       ├── RecordInvalidError     the mapped record fails the canonical model
    │       ├── HostileRecordError     the record carries something refused (entity, flawed JSON)
    │       └── RecordParseError       the record cannot be read on its own
    ├── ConnectorError                 connectors/errors.py
    │   ├── ConnectionConfigError      a connection (AIRFLOW_CONN_…) or source config is missing/malformed
    │   ├── TransportError             retriable: 429, 5xx, timeouts, resets, truncated bodies
    │   │   └── RateLimitedError       429; ``retry_after`` seconds from the server
    │   ├── FatalResponseError         4xx other than 429 (URL and status, never the body)
    │   │   └── AuthenticationError    401 / 403
    │   ├── ProtocolViolationError     the agency answered something that breaks its protocol
    │   │   ├── OriginViolationError   a link or redirect to an origin the connection is not pinned to
    │   │   ├── SoapFaultError         a SOAP Fault (its code and string)
    │   │   └── HostileBodyError       a body refused unread or half-read (decompression bomb, oversize)
    │   ├── QualityGateError           too many quarantined records in a pull (what arrived stays staged)
    │   ├── PullFailedError            a pull failed unexpectedly (class, place, SQLSTATE only)
    │   └── UnknownSourceError         a source code that is not configured
    ├── RegistryError                  registry/errors.py
    │   ├── DatabaseUnavailableError   no server answers at the URL, or the embedded one won't start
    │   ├── RunBusyError               another run of the same kind and scope is running
    │   ├── MigrationError             a migration could not be applied
    │   │   └── MigrationChecksumError an applied migration file was edited afterwards
    │   ├── UnstorableRecordError      a string PostgreSQL cannot store (NUL, lone surrogate)
    │   ├── PayloadChangedError        a streamed payload's bytes no longer match its sha256
    │   ├── ReplayError                a run cannot be replayed
    │   └── LineageError               a lineage question that cannot be answered
    ├── MatchingError                  matching/errors.py
    │   ├── StewardError               a steward action that cannot be done
    │   └── TrainingError              the person model cannot be fitted on the records at hand
    └── HubTaskError                   hub/openlineage_support.py: a DAG task failed unexpectedly
"""

from __future__ import annotations


class HubError(Exception):
    """Base of every error the hub raises on purpose; its message is safe to show (no personal values)."""
