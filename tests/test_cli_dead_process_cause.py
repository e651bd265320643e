"""Issue 14, kind "a dead process's error names its cause": when a sandbox process dies
(a fortio Deployment with an unknown flag), the error quotes the one log line naming the
cause (fortio's first line, `flag provided but not defined: -bogus-flag`, not its usage
text's last lines), then the log's path. Real parts: kmeshctl.sandbox.health's
ComponentFailed over log files written as the real programs write them."""

from __future__ import annotations

from pathlib import Path

from kmeshctl.sandbox.health import ComponentFailed, log_cause

FORTIO_USAGE = "flag provided but not defined: -bogus-flag\n" + "".join(
    f"  -flag{i} value\n    \tsome help text {i}\n" for i in range(40)) + "Usage: fortio command [flags] target\n"
TRACEBACK = ("starting\nTraceback (most recent call last):\n  File \"x.py\", line 3, in <module>\n"
             "    main()\nOSError: [Errno 98] Address already in use\n")


def _failed(log: Path) -> str:
    return str(ComponentFailed("pod fortio-v1-0 (container 1 of 1)", 4242, "exited with status 1", str(log),
                               []))


def test_fortio_unknown_flag_names_the_flag_and_the_log(tmp_path: Path) -> None:
    log = tmp_path / "fortio.log"
    log.write_text(FORTIO_USAGE)
    message = _failed(log)
    assert message == (f"pod fortio-v1-0 (container 1 of 1) (pid 4242) exited with status 1: flag provided but "
                       f"not defined: -bogus-flag (log: {log})"), message
    assert "\n" not in message and "Usage" not in message


def test_the_first_error_looking_line_else_the_first_line(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("listening on 8080\nbind: address already in use\nbye\n")
    assert log_cause(log) == "bind: address already in use"
    log.write_text("\nsomething odd happened\nmore\n")
    assert log_cause(log) == "something odd happened"
    log.write_text(TRACEBACK)
    assert log_cause(log) == "OSError: [Errno 98] Address already in use"


def test_an_empty_or_missing_log_says_so(tmp_path: Path) -> None:
    log = tmp_path / "empty.log"
    log.write_text("")
    assert _failed(log).endswith(f"its log {log} is empty")
    assert log_cause(tmp_path / "missing.log") == ""
