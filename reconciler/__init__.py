"""reconciler: schedule-as-code for Tableau extract refreshes, schedules and extract encryption."""

__version__ = "0.1.0"
