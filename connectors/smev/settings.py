"""Defaults of the SMEV-3-style connector."""

PATH = "/smev"
MAX_MESSAGES = 10_000
