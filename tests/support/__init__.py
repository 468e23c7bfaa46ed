"""Test support: real-service fixtures, process control, polling helpers."""
