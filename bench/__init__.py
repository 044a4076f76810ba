"""Benchmarks of the hub that print JSON: numbers to compare between runs and machines, never pass/fail.

* ``python -m bench.pull`` — pull + map + stage throughput per source against a generated sandbox, with
  peers measured in the same run (map only, parse only), the rerun, and the peak memory of a 10× larger
  EGISSO file pulled through the real pipeline (see :mod:`bench.pull`).
"""
