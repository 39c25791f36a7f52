"""When jobs fire: schedules and triggers, catch-up, DST and the scheduler host (the only
place that imports APScheduler)."""
