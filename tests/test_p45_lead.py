"""Pass-45 lead (t45a 1, 2): a line mended from one with an on/off value (`-q=1`) and a word
the command does not take is never offered when it would lose that word: `sandbox down x
-q=1` must not become `sandbox down -q` (the only sandbox up, maybe another run's), nor
`waypoint delete team-a/wp1 --ignore-not-found=yes` the default waypoint's delete.

In-process through kmeshctl.cli.main, every command's own work stubbed (no cluster configured).
"""

from __future__ import annotations

import pytest

from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401


@pytest.mark.parametrize("typed,word", [
    (["sandbox", "down", "p45-zz", "-q=1"], "p45-zz"),
    (["demo", "traffic-shift", "p45-x", "-v=1"], "p45-x"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_a_word_the_line_would_lose_gets_no_mended_line(typed, word, capsys, state_root, stubbed,  # noqa: F811
                                                         offline) -> None:  # noqa: F811
    code, out, err = cli(capsys, *typed)
    assert code == 2 and not out and f"({word})" in err, err
    assert "every value mended" not in err and "`kmeshctl" not in err, err


def test_a_word_the_line_keeps_still_gets_its_line(capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    code, _, err = cli(capsys, "uninstall", "kmesh-test", "-q=1")
    assert code == 2 and "every value mended: `kmeshctl uninstall --namespace kmesh-test -q`" in err, err


# pass 47 (t47a 6, 11): a word the command's own check reads as a flag's value is kept in the
# mended line (the same mend the line without the on/off value gets), never lost
@pytest.mark.parametrize("typed,line", [
    (["node", "cleanup", "/sys/fs/bpf/kmesh-p45", "--ignore-not-found=1"],
     "kmeshctl node cleanup --bpf-fs /sys/fs/bpf/kmesh-p45 --ignore-not-found"),
    (["uninstall", "Kmesh-Test", "-q=1"], "kmeshctl uninstall --namespace kmesh-test -q"),
    (["waypoint", "delete", "team-a/wp1", "--ignore-not-found=yes"],
     "kmeshctl waypoint delete --name wp1 -n team-a --ignore-not-found"),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_a_word_read_as_its_flag_is_kept_in_the_mended_line(typed, line, capsys, state_root, stubbed,  # noqa: F811
                                                            offline) -> None:  # noqa: F811
    code, _, err = cli(capsys, *typed)
    assert code == 2 and f"every value mended: `{line}`" in err, err
