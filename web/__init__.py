"""The hub's workspace in a browser (``hub web``): stewards, auditors, programme managers, operators."""
