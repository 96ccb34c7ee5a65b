"""Benchmarks: measurements of this project against the engine's floor, never tests."""
