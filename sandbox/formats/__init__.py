"""Wire formats of the four simulated agency systems (pure builders, no I/O)."""
