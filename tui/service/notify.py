"""Running under systemd: sd_notify (READY, STATUS, WATCHDOG, STOPPING), and the watchdog
probe, which only pets the watchdog while the scheduler and the database answer."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger("cronsole.service")


class Notifier:
    """Sends sd_notify datagrams to $NOTIFY_SOCKET; does nothing when systemd did not ask."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        for_us = env.get("WATCHDOG_PID", str(os.getpid())) == str(os.getpid())
        self.watchdog = int(usec) / 1e6 if usec.isdigit() and for_us else None

    def send(self, **fields: str) -> None:
        if not self.address:
            return
        message = "\n".join(f"{key.upper()}={value}" for key, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
                sock.sendto(message.encode(), self.address)
        except OSError as exc:  # systemd went away: keep running, say so once
            log.warning("sd_notify failed: %s", exc)
            self.address = ""


class Watchdog:
    """Every interval: when `probe()` says the engine is healthy, pet the watchdog and refresh
    STATUS; when it is not, stay silent so systemd restarts us."""

    def __init__(
        self, notifier: Notifier, probe: Callable[[], str | None], interval: float | None = None
    ) -> None:
        self.notifier, self.probe = notifier, probe
        self.interval = interval or (notifier.watchdog / 2 if notifier.watchdog else 10.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="watchdog", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                status = self.probe()
            except Exception as exc:  # the probe failing is the finding
                log.warning("health probe failed: %s", exc)
                status = None
            if status is None:
                continue
            fields = {"status": status}
            if self.notifier.watchdog:
                fields["watchdog"] = "1"
            self.notifier.send(**fields)
