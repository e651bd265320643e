"""Pass-46 fixer f46d (t45a 14, 15): every bad value of a line named in one error, and the
wording of some messages.

- a flag given two values (`-n Bad_NS -n b`) is said with the line's other bad values, and
  a line for each value kept, every value mended (badinput._two_values, either_lines);
- a flag the command does not have (`status --server URL`, `node run --dry-run`, `--dryrun`)
  is said with the others (badinput._unknown_with_others); a mended line only when the
  flag's own hint mends it (`--dryrun` -> --dry-run), never one that drops a dry run;
- a value the on/off lines leave out is noted "left out (the default)" (either_lines);
- messages: `help status -n`, `--plot` exists beside -o, one "(see ...)", `-- --dry-run`,
  `--version=1`, dump's "on this machine", precheck's colon, --kubeconfig lists and paths.

In-process through kmeshctl.cli.main, every command's own work stubbed (no cluster configured).
"""

from __future__ import annotations

import shlex
from types import SimpleNamespace

import pytest

from kmeshctl import kube
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p43_f43a import _offered
from test_p44_f44a import KUBECONFIG, here  # noqa: F401
from test_p44_f44a import _offered as _working  # a help or version line: it works, it prints


def _words(*lines: str) -> list[list[str]]:
    return [shlex.split(line) for line in lines]


# ------------------------------------------------------------------ 14. a flag given twice, with other bad values

@pytest.mark.parametrize("typed,said,lines", [
    (["render", "--cluster-id", "c1", "--xds-address", "x:1", "--cluster-id", "c2", "-o", "yml"],
     ["--cluster-id c1 and --cluster-id c2: --cluster-id takes one value; give one", "also -o yml: not an accepted"],
     _words("kmeshctl render --cluster-id c1 --xds-address x:1 -o yaml",
            "kmeshctl render --xds-address x:1 --cluster-id c2 -o yaml")),
    (["status", "-n", "Bad_NS", "-n", "b", "-o", "jsn"],
     ["-n Bad_NS and -n b: --namespace takes one value; give one", "also -n Bad_NS: not a valid namespace name",
      "also -o jsn: not an accepted value"],
     _words("kmeshctl status -n bad-ns -o json", "kmeshctl status -n b -o json")),
    (["waypoint", "apply", "--name=wp", "--name", "Wp2", "--dry-run"],
     ["--name wp and --name Wp2: --name takes one value; give one", "did you mean --name wp2?"],
     _words("kmeshctl waypoint apply --name=wp --dry-run", "kmeshctl waypoint apply --name wp2 --dry-run")),
], ids=lambda x: " ".join(x) if isinstance(x, list) and isinstance(x[0], str) else None)
def test_a_flag_given_twice_is_said_with_the_other_bad_values(typed, said, lines, capsys, state_root,  # noqa: F811
                                                              stubbed, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *typed)
    for part in said:
        assert part in line, line
    assert offered == lines, line
    assert line.count("(see '") == 1, line


def test_two_contexts_before_the_command_get_both_lines(here, capsys, state_root, stubbed) -> None:  # noqa: F811
    line, offered = _offered(capsys, "--kubeconfig", "kc.yaml", "--context", "prod", "--context", "dev",
                             "status", "-o", "jsn")
    assert "--context prod and --context dev: --context takes one value; give one; also -o jsn" in line, line
    assert offered == _words("kmeshctl --kubeconfig kc.yaml --context prod status -o json",
                             "kmeshctl --kubeconfig kc.yaml --context dev status -o json"), line


# ------------------------------------------------------------------ 14. a flag the command lacks, with the others

@pytest.mark.parametrize("typed,said", [
    (["status", "--server", "https://127.0.0.1:1", "-o", "jsn"],
     ["No such option: --server; status has no --server (kubectl's)", "; also -o jsn: not an accepted value"]),
    (["node", "run", "--admin-port", "70000", "--dry-run"],
     ["--admin-port 70000: out of range", "also no such option: --dry-run; node run has no dry run"]),
    (["sandbox", "exec", "--name", "T45A", "-o", "json", "--", "true"],
     ["--name T45A: not a sandbox name", "also kmeshctl sandbox exec takes no -o/--output"]),
    (["enable-ns", "Default", "--dryrun"],
     ["No such option: --dryrun; enable-ns has no dry run (kubectl's --dry-run)",
      "also namespace Default: not a valid namespace name"]),
    (["node", "cleanup", "--bpf-fs", "", "-o", "jsn"],
     ["--bpf-fs '': empty value", "also kmeshctl node cleanup takes no -o/--output"]),
], ids=["status --server", "node run --dry-run", "sandbox exec -o", "enable-ns --dryrun", "node cleanup -o"])
def test_a_flag_the_command_lacks_is_said_with_the_others_and_no_line_drops_it(typed, said, capsys,  # noqa: F811
                                                                             state_root, stubbed,  # noqa: F811
                                                                             offline) -> None:  # noqa: F811
    line, offered = _working(capsys, *typed)  # `kmeshctl node run --help` only prints
    for part in said:
        assert part in line, line
    assert "every value mended" not in line, line
    path = typed[:2] if typed[0] in ("node", "sandbox") else typed[:1]
    assert all(each[1:len(path) + 1] != path or "--help" in each for each in offered), line  # no run of it


def test_each_flag_the_command_lacks_and_its_value_are_read_past(capsys, state_root, stubbed,  # noqa: F811
                                                                  offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "status", "--server", "x", "--token", "y", "-o", "jsn")
    assert "No such option: --server; status has no --server" in line and "also no such option: --token" in line
    assert "also -o jsn: not an accepted value" in line and "extra argument" not in line and not offered, line
    line, _ = _offered(capsys, "status", "--foo", "--bar", "-o", "jsn")
    assert line.startswith("Error: No such option: --foo; also no such option: --bar; also -o jsn:"), line


def test_a_respelled_flag_keeps_its_own_line(capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "waypoint", "apply", "--name", "Wp", "-n", "Foo", "--dryrun")
    assert line.startswith("Error: No such option: --dryrun; did you mean --dry-run? `"), line
    assert offered == _words("kmeshctl waypoint apply --name wp -n foo --dry-run"), line


def test_dryrun_of_a_command_without_dry_run_is_said_as_dry_run(capsys, state_root, stubbed,  # noqa: F811
                                                                offline) -> None:  # noqa: F811
    line = _line(capsys, "node", "cleanup", "--dryrun")
    assert "No such option: --dryrun; node cleanup has no dry run (kubectl's --dry-run)" in line, line


# ------------------------------------------------------------------ 14. a value the on/off lines leave out

@pytest.mark.parametrize("typed,said,lines", [
    (["enable-ns", "Team_A", "--wait=1", "--timeout", "5x"], "--timeout 5x left out (the default)",
     _words("kmeshctl enable-ns team-a --wait")),
    (["bench", "dataplane", "--paths", "Direct", "--repeats", "101", "--force=yes"],
     "--repeats 101 left out (the default)", _words("kmeshctl bench dataplane --paths direct --force")),
], ids=lambda x: " ".join(x) if isinstance(x, list) and isinstance(x[0], str) else None)
def test_a_value_the_on_off_line_leaves_out_is_noted(typed, said, lines, capsys, state_root, stubbed,  # noqa: F811
                                                     offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *typed)
    assert f"every value mended, {said}:" in line, line
    assert offered == lines, line


# ------------------------------------------------------------------ 15. messages

@pytest.mark.parametrize("typed,said", [
    (["help", "status", "-n"], "help takes no -n (status does: kmeshctl status -n NAMESPACE); "
                               "`kmeshctl help status` shows its help"),
    (["help", "--namespace", "foo", "status"], "help takes no --namespace (status does: "
                                               "`kmeshctl status --namespace foo`); `kmeshctl help status`"),
], ids=["help status -n", "help --namespace foo status"])
def test_help_is_what_takes_no_namespace(typed, said, capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    line, _ = _offered(capsys, *typed)
    assert said in line and "this command takes no namespace" not in line, line


def test_an_existing_plot_beside_another_mistake_names_no_other_flag_in_its_sentence(
        tmp_path, monkeypatch, capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.png").write_bytes(b"x")
    line = _line(capsys, "demo", "traffic-shift", "--target", "cluster", "--plot", "a.png", "-o", "jsn")
    assert "--plot a.png: exists; pass --force to replace it, or another --plot; also -o jsn" in line, line
    line = _line(capsys, "demo", "traffic-shift", "--target", "cluster", "-v=1", "--force=no", "--plot", "a.png")
    assert line.count("(see '") == 1 and line.endswith("(see 'kmeshctl demo traffic-shift --help')"), line


def test_a_flag_after_the_separator_it_does_not_take_gets_no_empty_without(capsys, state_root,  # noqa: F811
                                                                          stubbed, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "sandbox", "up", "--name", "t46d-1", "--", "--dry-run")
    assert "without the `--` they are read as flags; sandbox up has no dry run" in line, line
    assert all(each[1:3] != ["sandbox", "up"] for each in offered), line


def test_version_with_a_value(capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    line, offered = _working(capsys, "--version=1")
    assert "it prints kmeshctl's version, `kmeshctl --version`" in line and "turn it on" not in line, line


def test_dump_config_with_a_pod_word_and_no_cluster_reads_whole(capsys, state_root, stubbed,  # noqa: F811
                                                                offline) -> None:  # noqa: F811
    line, _ = _offered(capsys, "dump", "config", "kmesh-system/kmesh-1", "-o", "jsn")
    assert "run leave" not in line and "on this machine, leave kmesh-system/kmesh-1 out" in line, line


def test_precheck_namespace_word_beside_another_mistake_ends_no_colon(capsys, state_root, stubbed,  # noqa: F811
                                                                      offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "precheck", "kmesh-system", "-o", "jsn")
    assert "with --namespace (precheck's -n" in line and "--namespace: (" not in line, line
    assert offered == _words("kmeshctl precheck --namespace kmesh-system -o json"), line


def test_kubeconfig_list_joined_with_commas(here, capsys, state_root, stubbed) -> None:  # noqa: F811
    (here / "kc2.yaml").write_text(KUBECONFIG)
    line, offered = _offered(capsys, "--kubeconfig", "kc.yaml,kc2.yaml", "status")
    assert "(kubeconfig lists are joined with ':', not ',': kc.yaml:kc2.yaml)" in line, line
    # f49c (t48a 16): --kubeconfig takes one file, as kubectl's; the list is $KUBECONFIG's
    assert offered == [] and "`KUBECONFIG=kc.yaml:kc2.yaml kmeshctl status`" in line, line


def test_a_kubeconfig_path_with_a_space_is_quoted_as_the_context_is() -> None:
    said = kube._origin_text("kc 1.yaml", SimpleNamespace(current="prod"), "Prod Cluster")  # type: ignore[arg-type]
    assert said == "kubeconfig 'kc 1.yaml', context 'Prod Cluster'", said


# ------------------------------------------------------------------ 14. an empty value beside others mendable

@pytest.mark.parametrize("typed,said,lines", [
    (["precheck", "--cluster-id", "", "-n", "Foo", "--istio-namespace", "Istio_System", "-o", "jsn", "--uninstall=1"],
     "every value mended, --cluster-id '' left out (the default):",
     _words("kmeshctl precheck -n foo --istio-namespace istio-system -o json --uninstall")),
    (["waypoint", "apply", "--name", "wp", "--image", "", "-n", "Foo", "--dry-run"],
     "every value mended, --image '' left out (the default):",
     _words("kmeshctl waypoint apply --name wp -n foo --dry-run")),
], ids=["precheck", "waypoint apply"])
def test_an_empty_value_that_picks_no_target_is_left_out(typed, said, lines, capsys, state_root,  # noqa: F811
                                                         stubbed, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *typed)
    assert said in line and offered == lines, line


def test_an_empty_target_is_never_left_out(capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    line, offered = _working(capsys, "node", "cleanup", "--bpf-fs", "", "--ignore-not-found=1")
    assert "--bpf-fs '': empty value" in line and not offered, line


def test_a_sandbox_namespace_is_its_name(capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "sandbox", "status", "-n", "t46d-1")
    assert "a sandbox has no namespace; did you mean --name?" in line, line
    assert offered == _words("kmeshctl sandbox status --name t46d-1"), line
    line, offered = _working(capsys, "sandbox", "up", "-n", "t46d-1", "--dry-run")
    assert "a sandbox has no namespace; did you mean --name?" in line and "sandbox up has no dry run" in line, line
    assert all(each[1:3] != ["sandbox", "up"] for each in offered), line
