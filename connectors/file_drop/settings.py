"""Defaults of the file-drop connector."""

PATTERNS = ("*.xml",)
HASH_BLOCK = 1 << 20
