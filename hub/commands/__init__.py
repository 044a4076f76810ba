"""Subcommands of ``hub``, one module per group."""
