"""Test suite: unit, integration (one real dependency) and end-to-end."""
