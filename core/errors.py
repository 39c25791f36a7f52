"""One error hierarchy for the engine; the shells translate it into exit codes and toasts."""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_DEGRADED = 3
EXIT_STORE = 4


class CronsoleError(Exception):
    """Base of every error the engine raises on purpose."""

    exit_code = EXIT_FAILURE


class UsageError(CronsoleError):
    """An operator asked for something that cannot be done as asked (bad argument, unknown job)."""

    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration is invalid; `location` is `file:line` when known."""

    def __init__(self, message: str, location: str | None = None) -> None:
        super().__init__(f"{location}: {message}" if location else message)
        self.location = location


class JobFailed(CronsoleError):
    """Raised by a job to fail its run with this message as the run's error (no exception
    type in front of it) and `summary` kept as a returned one would be (a command's exit
    code and last lines of output)."""

    def __init__(self, message: str, summary: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.summary = summary or {}


class StoreUnusable(CronsoleError):
    """The state database cannot be used (corrupt, foreign, newer schema, unreadable)."""

    exit_code = EXIT_STORE


class StateFileUnsafe(StoreUnusable):
    """A file cronsole keeps (the database and its sidecars, the log file) is a symbolic link:
    refused, never followed (a link would let writes and mode changes land elsewhere)."""


class StoreWriteFailed(CronsoleError):
    """A write could not be made (disk full, locked past the busy timeout); it was rolled back
    whole, so nothing of it is stored. Retrying later is safe."""


class StoreUnavailable(StoreWriteFailed):
    """The database server cannot be reached (restarted, network down); nothing was stored.
    The next call reconnects."""


class DamagedRow(CronsoleError):
    """A stored row failed validation on read (edited by hand, or damaged); it is refused."""


class StaleClaim(CronsoleError):
    """A claim was taken over by someone else (sweeper, restart); the late result is refused."""


class TakenOver(StaleClaim):
    """Found before the work started: the claim is no longer this node's, so it is skipped."""


class NoScheduler(CronsoleError):
    """The command needs a running scheduler and none is alive."""
