"""Simulated agency systems: a deterministic population, four agencies' formats with noise, ground truth.

Only tests and benchmarks read the ground truth (``DIR/truth/``); the hub never does.
"""
