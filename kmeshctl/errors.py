"""Errors that end a command with a one-line message and a script-friendly exit code."""

from __future__ import annotations

import warnings

EXIT_FAILURE = 1
EXIT_USAGE = 2


class KmeshctlError(Exception):
    """A failure to report to the user as one line, then exit with ``exit_code``.

    Given a ``fix``, the line is `PROBLEM; FIX` and both parts are kept (``problem``,
    ``fix``), so a report that shows them apart (precheck's DETAIL and FIX) shows each once;
    ``see`` is a pointer elsewhere appended to the line only, `(SEE)`."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, exit_code: int | None = None, *, fix: str = "", see: str = "") -> None:
        super().__init__(f"{message}; {fix}" + (f" ({see})" if see else "") if fix else message)
        self.problem, self.fix = (message, fix) if fix else split_fix(message)
        if exit_code is not None:
            self.exit_code = exit_code


# The words a fix starts with (`...; pass --context NAME`, `...: check the port`).
_FIX_VERBS = frozenset("""add ask check choose correct create delete disable download enable fix free give install
    leave log make mount name paste pass point put re-run refresh remove rename run set start stop try unset
    upgrade use wait write""".split())
_FIX_SEPARATORS = ("; ", ": ", ". Fix: ")


def split_fix(message: str) -> tuple[str, str]:
    """A one-line error `PROBLEM; FIX` (or `PROBLEM: FIX`, `PROBLEM. Fix: FIX`) as its two
    parts: the first separator outside parentheses and backticks that a fix's verb follows;
    (message, "") when it has none."""
    depth, quoted = 0, False
    for index, char in enumerate(message):
        if char == "`":
            quoted = not quoted
        elif not quoted:
            depth += {"(": 1, ")": -1, "[": 1, "]": -1}.get(char, 0)
        if depth or quoted:
            continue
        for separator in _FIX_SEPARATORS:
            if message.startswith(separator, index):
                rest = message[index + len(separator):]
                if rest.split(" ", 1)[0].lower() in _FIX_VERBS:
                    return message[:index], rest
    return message, ""


class UsageError(KmeshctlError):
    """Bad flags or input: nothing was changed."""

    exit_code = EXIT_USAGE


def silence_library_warnings() -> None:
    """No Python warning (urllib3's InsecureRequestWarning for an insecure-skip-tls-verify
    kubeconfig, a library's DeprecationWarning) reaches the user: kubectl prints nothing
    for these, and each is a library path plus source line. A developer's own -W or
    PYTHONWARNINGS still wins."""
    import sys

    if not sys.warnoptions:
        warnings.simplefilter("ignore")
