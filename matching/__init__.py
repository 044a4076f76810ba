"""Entity resolution of person and family records: standardisation, deterministic rules, Fellegi–Sunter
scoring (Splink on DuckDB), clustering and survivorship."""
