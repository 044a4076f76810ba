"""The audit log's keys and checkpoints: outside the database, where its roles cannot write.

* **Signing key** — Ed25519 (``cryptography``), PEM at ``HUB_AUDIT_KEY`` or ``HUB_HOME/audit/signing-key.pem``
  (mode 0600), made on first use; its public half beside it as ``<key id>.pub`` in ``HUB_HOME/audit/keys/``
  (every public key ever used stays there, so old rows verify after a key rotation). The key id is the
  first 16 hex digits of the sha256 of the raw public key.
* **Checkpoints** — ``HUB_HOME/audit/checkpoints.jsonl``: after each night the chain head (row id, hash,
  row count, time), signed. Point ``HUB_AUDIT_CHECKPOINTS`` at WORM storage (an append-only bucket or an
  object-locked share) in production: what is written there cannot be taken back, so a cut tail or a
  recomputed chain is found by ``hub audit verify``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.db import hub_home
from schemas.settings import settings


def audit_dir() -> Path:
    return hub_home() / "audit"


def _key_path() -> Path:
    return settings().audit_key or audit_dir() / "signing-key.pem"


def checkpoints_path() -> Path:
    return settings().audit_checkpoints or audit_dir() / "checkpoints.jsonl"


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass
class Signer:
    private: Ed25519PrivateKey
    key_id: str

    def sign(self, text: str) -> str:
        return self.private.sign(text.encode()).hex()


_SIGNER: dict[Path, Signer] = {}


def signer() -> Signer:
    """The signing key (created with its public half on first use)."""
    path = _key_path()
    if path not in _SIGNER:
        if not path.exists():
            _create(path)
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            from registry.errors import RegistryError

            raise RegistryError(f"{path.name} is not an Ed25519 private key")
        public = loaded.public_key()
        _publish(public)
        _SIGNER[path] = Signer(loaded, key_id(public))
    return _SIGNER[path]


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)


def _publish(public: Ed25519PublicKey) -> None:
    folder = audit_dir() / "keys"
    target = folder / f"{key_id(public)}.pub"
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        target.write_bytes(public.public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo))


def public_keys() -> dict[str, Ed25519PublicKey]:
    """Every known public key by id (``HUB_HOME/audit/keys/*.pub``)."""
    keys = {}
    for path in sorted((audit_dir() / "keys").glob("*.pub")):
        loaded = serialization.load_pem_public_key(path.read_bytes())
        if isinstance(loaded, Ed25519PublicKey):
            keys[key_id(loaded)] = loaded
    return keys


def valid(keys: dict[str, Ed25519PublicKey], kid: str | None, text: str, signature: str | None) -> bool:
    key = keys.get(kid or "")
    if key is None or not signature:
        return False
    try:
        key.verify(bytes.fromhex(signature), text.encode())
    except (InvalidSignature, ValueError):
        return False
    return True


def write_checkpoint(head_id: int, head_hash: str, rows: int, database: str) -> dict[str, Any]:
    """Append a signed checkpoint of the chain head; return it."""
    body = {"audit_id": head_id, "hash": head_hash, "rows": rows, "database": database,
            "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    sign = signer()
    line = {**body, "key_id": sign.key_id, "signature": sign.sign(text)}
    path = checkpoints_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as out:
        out.write(json.dumps(line, sort_keys=True) + "\n")
        out.flush()
        os.fsync(out.fileno())
    return line


def read_checkpoints(database: str) -> tuple[list[dict[str, Any]], list[str]]:
    """(signed checkpoints of ``database``, problems: lines unreadable or not validly signed)."""
    path = checkpoints_path()
    if not path.exists():
        return [], []
    keys, good, problems = public_keys(), [], []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        try:
            item = json.loads(line)
            body = {k: item[k] for k in ("audit_id", "hash", "rows", "database", "at")}
        except (ValueError, KeyError, TypeError):
            problems.append(f"checkpoint line {n} is unreadable")
            continue
        if body["database"] != database:
            continue
        text = json.dumps(body, sort_keys=True, separators=(",", ":"))
        if not valid(keys, item.get("key_id"), text, item.get("signature")):
            problems.append(f"checkpoint line {n} is not validly signed")
            continue
        good.append(body)
    return good, problems
