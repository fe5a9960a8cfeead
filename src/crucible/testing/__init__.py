"""Synthetic objectives with known optima, for tests, demos and benchmarks."""
