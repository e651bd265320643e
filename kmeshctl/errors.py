"""Errors that end a command with a one-line message and a script-friendly exit code."""

from __future__ import annotations

import warnings

EXIT_FAILURE = 1
EXIT_USAGE = 2


class KmeshctlError(Exception):
    """A failure to report to the user as one line, then exit with ``exit_code``.

    Given a ``fix``, the line is `PROBLEM; FIX` and both parts are kept (``problem``,
    ``fix``), so a report that shows them apart (precheck's DETAIL and FIX) shows each once:
    a raiser whose error can reach such a report passes its fix here, never inside the
    message (``fix`` is then empty and kube.diagnosis gives the kind's fix);
    ``see`` is a pointer elsewhere appended to the line only, `(SEE)`."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, exit_code: int | None = None, *, fix: str = "", see: str = "") -> None:
        super().__init__(_line(message, fix, see))
        self.problem, self.fix, self.see, self._message = message, fix, see, message
        if exit_code is not None:
            self.exit_code = exit_code

    def pointing_at(self, see: str) -> "KmeshctlError":
        """This error (its class, problem and fix) with ``see`` as its pointer instead:
        the command knows better where to look than the raiser (a 403 of install points at
        precheck, which lists what install needs)."""
        return self._remade(self.fix, see)

    def with_fix(self, fix: str) -> "KmeshctlError":
        """This error (its class, problem and pointer) with ``fix`` as its fix instead: a
        caller that knows more narrows the raiser's (no other context to pass)."""
        return self._remade(fix, self.see)

    def _remade(self, fix: str, see: str) -> "KmeshctlError":
        changed = type(self).__new__(type(self))  # not copy.copy: it re-calls __init__ with args only
        changed.__dict__.update(self.__dict__)
        changed.fix, changed.see = fix, see
        changed.args = (_line(self._message, fix, see),)
        changed.__cause__, changed.__context__ = self.__cause__, self.__context__
        return changed


def _line(message: str, fix: str, see: str) -> str:
    return f"{message}; {fix}" + (f" ({see})" if see else "") if fix else message


class UsageError(KmeshctlError):
    """Bad flags or input: nothing was changed."""

    exit_code = EXIT_USAGE


def require_root(doer: str, what: str) -> None:
    """KmeshctlError `DOER needs root (WHAT): run it as root` for any user but root: the one
    line every command that needs root says, never the errno of the first file it could not open."""
    import os

    if os.geteuid() != 0:
        raise KmeshctlError(f"{doer} needs root ({what}): run it as root")


def spoken_list(items: "list[str] | tuple[str, ...]", last: str = "and") -> str:
    """``items`` as an error line says them: `a`, `a and b`, `a, b and c` (``last`` "or": `a, b or c`)."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


def silence_library_warnings() -> None:
    """No Python warning (urllib3's InsecureRequestWarning for an insecure-skip-tls-verify
    kubeconfig, a library's DeprecationWarning) reaches the user: kubectl prints nothing
    for these, and each is a library path plus source line. A developer's own -W or
    PYTHONWARNINGS still wins."""
    import sys

    if not sys.warnoptions:
        warnings.simplefilter("ignore")
