"""Versioned message contracts shared by every service; pure pydantic, no I/O."""
