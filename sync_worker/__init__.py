"""The sync worker: the only component that talks to Randomuser."""
