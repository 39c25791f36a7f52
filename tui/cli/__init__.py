"""The `cronsole` command: `app` (cli/app.py) with the global options, and one module per noun,
each command registered with `@app.command` next to its code:

- jobs.py: jobs, job, schedule, watermark
- runs.py: runs, run, backfill, retry, cancel
- control.py: fire, pause, resume, set, period
- status.py: status, health, tenants, logs, audit
- setup.py: init, config show/check, paths, doctor, migrate-store, demo
- crontab.py: import-crontab
- alerts.py: alerts, alerts test
- batches.py: batches, batches submit
"""

from __future__ import annotations

import importlib

from .app import app, main, run

# each module registers its commands on import, in this order: the order of `cronsole --help`
for _noun in ("status", "jobs", "runs", "control", "batches", "setup", "crontab", "alerts"):
    importlib.import_module(f"{__name__}.{_noun}")

__all__ = ["app", "main", "run"]
