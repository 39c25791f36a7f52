"""The headless service: `cronsole --no-tui` under systemd (notify and watchdog), with
Prometheus metrics and health endpoints."""
