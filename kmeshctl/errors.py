"""Errors that end a command with a one-line message and a script-friendly exit code."""

from __future__ import annotations

EXIT_FAILURE = 1
EXIT_USAGE = 2


class KmeshctlError(Exception):
    """A failure to report to the user as one line, then exit with ``exit_code``."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(KmeshctlError):
    """Bad flags or input: nothing was changed."""

    exit_code = EXIT_USAGE
