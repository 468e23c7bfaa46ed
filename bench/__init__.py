"""Benchmarks of the read and sync paths against a real local stack (not tests)."""
