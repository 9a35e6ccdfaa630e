"""Benchmarks: CLI commands that print tables of measured numbers (``dialer bench …``)."""
