"""Developer scripts run by make (lint checks)."""
