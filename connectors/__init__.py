"""The hub's hands: one folder per connector kind, one shared HTTP base, and the pull pipeline.

* ``file_drop/``   – a folder of files per source (EGISSO packages, the social-protection export);
* ``fhir/``        – FHIR R4 search with ``next`` links and ``_lastUpdated`` increments;
* ``rest_cursor/`` – JSON REST with cursor pagination and an ``updated_since`` watermark;
* ``smev/``        – the SMEV-3-style GetResponse → process → Ack exchange;
* ``http``         – retriable vs fatal failures, Retry-After, auth (bearer, API key, OAuth2);
* ``pipeline``     – pull: payloads → mapper → staging, with the watermark in the payload's transaction.

Each connector yields *payloads* (a file, a page, a message) with their position; the mapper reads the
records inside. A payload is the unit of a transaction: its raw bytes, its records and the cursor move
together.
"""
