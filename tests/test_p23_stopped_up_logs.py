"""A stopped `sandbox up` that kept the logs of what it had started (`sandbox list` then
shows NAME failed) says where they are and what removes them (tester pass 23, finding 11)."""

from __future__ import annotations

from pathlib import Path

from kmeshctl.cli import sandbox as cli_sandbox

from test_cli_kinds import state_root  # noqa: F401 (fixture)


def test_a_stop_that_kept_logs_names_them_and_the_command_that_removes_them(state_root: Path) -> None:  # noqa: F811
    assert cli_sandbox._what_a_stopped_up_left("p23s") == "sandbox p23s was not created"
    logs = state_root / "failed-up-p23s"
    logs.mkdir(parents=True)
    assert cli_sandbox._what_a_stopped_up_left("p23s") == (
        f"sandbox p23s was not created; its logs are kept in {logs} (remove them with "
        "`kmeshctl sandbox down --name p23s`)")
