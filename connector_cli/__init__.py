"""Operator CLI (`randomuser-connector`): trigger syncs, read status, replay dead letters."""
