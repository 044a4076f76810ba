"""The four simulated agency systems: each turns true families into its own records, format and noise."""
