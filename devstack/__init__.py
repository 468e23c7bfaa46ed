"""Local development stack: every service as a process behind nginx."""
