"""Command side: accepts sync triggers and publishes them; holds no read data."""
