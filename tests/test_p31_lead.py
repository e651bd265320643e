"""Pass 31 (issue 14), the lead's fixes of reviewer R30's kind-3 finding: a short flag
kmeshctl does not have, typed with its value attached as pflag reads it (`-lapp=x`, `-v3`),
is left out whole of the line to paste (before: `-lapp=x` stayed and the line failed)."""
from __future__ import annotations

import re
import shlex

import pytest

from test_cli_kinds import cli, no_env, state_root  # noqa: F401

BACKTICKED = re.compile(r"`(kmeshctl [^`]*)`")


@pytest.mark.parametrize("typed,meant", [
    (["-v3", "sandbox", "list"], ["sandbox", "list"]),
    (["status", "-lapp=x"], ["status", "-o", "json"]),
    (["waypoint", "list", "-lapp=x", "-A"], ["waypoint", "list", "-A", "-o", "json"]),
    (["waypoint", "list", "-lapp=x", "-ojson", "-A"], ["waypoint", "list", "-A", "-o", "json"]),
])
def test_an_attached_short_value_goes_with_its_flag(typed, meant, capsys, no_env, state_root) -> None:  # noqa: F811
    code, out, err = cli(capsys, *typed)
    assert code == 2 and not out, err
    lines = [shlex.split(line) for line in BACKTICKED.findall(err)]
    assert ["kmeshctl", *meant] in lines, err
    assert not any(word.startswith(("-l", "-v3")) for line in lines for word in line), err


def test_a_short_flag_without_a_value_keeps_the_next_flag(capsys, no_env, state_root) -> None:  # noqa: F811
    """`-v` alone takes no value unless a number follows: `-v -A` keeps -A."""
    code, _, err = cli(capsys, "waypoint", "list", "-v", "-A")
    assert code == 2, err
    lines = [shlex.split(line) for line in BACKTICKED.findall(err)]
    assert lines and all("-A" in line for line in lines if "list" in line), err


# ------------------------------------------------------------------ a bad --xds-address before a missing flag


@pytest.mark.parametrize("command", [["render"], ["install", "--dry-run"], ["install"]])
def test_a_bad_xds_address_is_refused_before_a_missing_cluster_id(command, capsys, no_env, state_root) -> None:  # noqa: F811
    """The required-flags line would paste the bad address back (reviewer R30)."""
    code, out, err = cli(capsys, *command, "--xds-address", "a:1,b:2")
    assert code == 2 and not out, err
    # both said in one line, its line to paste with the address meant (f36a: one paste)
    assert "--xds-address a:1,b:2: a list of addresses" in err and "--cluster-id is required" in err, err
    assert re.search(r"`kmeshctl install[^`]* --xds-address a:1 |`kmeshctl render --xds-address a:1 ", err) and \
        "a:1,b:2`" not in err and "a:1,b:2 " not in err.partition("`")[2], err


@pytest.mark.parametrize("value,example", [
    ("[a:1,b:2]", "a:1"),
    ("[fd00::1]:15012,[fd00::2]:15012", "[fd00::1]:15012"),
    ("a:1:2:3", "a:1"),
])
def test_a_list_in_brackets_is_named_a_list_with_its_first_address(value, example, capsys, no_env,  # noqa: F811
                                                                   state_root) -> None:  # noqa: F811
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", value)
    assert code == 2 and f"--xds-address {shlex.quote(example)} --cluster-id c1` (see" in err, err  # the whole line (f36a)
    assert ("a list of addresses" in err) == ("," in value), err
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", example)
    assert code == 0, err


@pytest.mark.parametrize("all_flag", ["-A", "--all-namespaces"])
def test_a_namespace_word_after_all_namespaces_drops_it_from_the_namespace_line(all_flag, capsys, no_env,  # noqa: F811
                                                                                state_root) -> None:  # noqa: F811
    code, _, err = cli(capsys, "waypoint", "list", all_flag, "wp", "-o", "json")
    assert code == 2, err
    lines = [shlex.split(line) for line in BACKTICKED.findall(err)]
    assert ["kmeshctl", "waypoint", "list", "--namespace", "wp", "-o", "json"] in lines, err
    assert not any(all_flag in line for line in lines), err


@pytest.mark.parametrize("typed,meant", [
    (["demo", "-c", "1", "traffic-shift", "--sandbox", "X", "-q"],
     ["-q", "demo", "traffic-shift", "-c", "1", "--sandbox", "X"]),
    (["demo", "--weights", "90/10", "traffic-shift", "--quiet", "--sandbox", "X"],
     ["-q", "demo", "traffic-shift", "--weights", "90/10", "--sandbox", "X"]),
])
def test_a_flag_moved_after_the_subcommand_shows_q_once(typed, meant, capsys, no_env, state_root) -> None:  # noqa: F811
    """t31a: the line to paste had -q twice (once in front, once after the command)."""
    code, _, err = cli(capsys, *typed)
    assert code == 2 and [shlex.split(line) for line in BACKTICKED.findall(err)] == [["kmeshctl", *meant]], err


# ------------------------------------------------------------------ t31c: uninstall's lines


def test_the_unmark_commands_name_every_marked_pod_and_the_list_counts_the_rest() -> None:
    """t31c: 7 pods marked, the line named and unmarked 5 (pasted, 2 stayed marked)."""
    from kmeshctl.uninstall import AgentPod, left_marked_detail, node_results

    pods = [f"t31c-b/p{i}" for i in range(4)] + [f"t31c-d/q{i}" for i in range(3)]
    [result] = node_results("kmesh-system", [AgentPod(node="n1", name="kmesh-a", running=False, state="Pending")],
                            {"n1": pods})
    for detail in (result.detail, left_marked_detail(pods, "n1")):
        assert "t31c-b/p0, t31c-b/p1, t31c-b/p2, t31c-b/p3, t31c-d/q0 and 2 more" in detail, detail
        assert "`kubectl annotate pod -n t31c-b p0 p1 p2 p3 kmesh.net/redirection- kmesh.net/enrolled-by-`" in detail, detail
        assert "`kubectl annotate pod -n t31c-d q0 q1 q2 kmesh.net/redirection- kmesh.net/enrolled-by-`" in detail, detail


def test_a_never_started_agent_claims_nothing_of_earlier_installs() -> None:
    """t31c: `so nothing is left to clean up` was said with an earlier install's pins there."""
    from kmeshctl.uninstall import AgentPod, node_results

    agent = AgentPod(node="n1", name="kmesh-a", running=False, state="ContainerCreating", never_ran=True)
    [result] = node_results("kmesh-system", [agent], {})
    assert result.outcome == "stopped" and result.detail.endswith("so this install left nothing there"), result


def test_o_wide_shows_a_column_empty_in_every_row_and_the_default_drops_it() -> None:
    """t31c: `waypoint list -o wide` left out SERVICES when no waypoint had users; -o wide
    shows every column (kind 9), the default table still leaves an all-<none> column out."""
    import io

    from rich.table import Table

    from kmeshctl.cli.tables import cli_console

    def printed(wide: bool) -> str:
        out = io.StringIO()
        table = Table("NAMESPACE", "NAME", "SERVICES")
        table.add_row("team", "waypoint", "<none>")
        cli_console(wide=wide, file=out).print(table)
        return out.getvalue()

    assert "SERVICES" in printed(True) and "SERVICES" not in printed(False)


@pytest.mark.parametrize("typed,meant", [(["-r", "Canary"], "--revision canary"), (["--name", "My_WP"], "--name my-wp")])
def test_a_waypoint_name_or_revision_in_upper_case_gets_the_one_meant(typed, meant, capsys, no_env,  # noqa: F811
                                                                      state_root) -> None:  # noqa: F811
    """t31c: `-r Canary` got a generic example; enable-ns T31C-B already offered t31c-b."""
    code, _, err = cli(capsys, "waypoint", "apply", "-n", "team", "--dry-run", *typed)
    assert code == 2 and f"; did you mean {meant}?" in err, err
