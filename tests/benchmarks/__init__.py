"""Benchmarks: run on demand (``python -m tests.benchmarks.<name>``); a smoke run of
each, with small sizes and no timing assertions, is part of the test suite."""
