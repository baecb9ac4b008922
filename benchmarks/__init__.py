"""Benchmarks: figures and ratios, printed, never asserted as timings."""
