"""Benchmark scripts; each prints its figures (see its docstring for how to run it)."""
