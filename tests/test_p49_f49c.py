"""Pass-49 fixer f49c (t48a 9, 10, 11, 12, 14, 15, 16): lines that keep what was typed and
values offered where one was missing.

- 9: render's / install's --xds-address lines keep the root's -q (render.same_work_command);
- 10: a missing or empty value gets an accepted example: the one a help example gives the
  flag (--map km_manage, --revision 1-22-6, --run-id 3f9a1c, --bpf-fs of node cleanup's),
  --map's names, --context's line or the kubeconfig it lacks;
- 11: `help stauts` -> `kmeshctl help status`; a quoted value's did-you-mean gets its line;
  `--version --client` -> `kmeshctl version --client`;
- 12: node run's port clash names the flag typed (and gets its mended line); --admin-socket
  is checked with the other values;
- 14: dump's `--pod KMESH` with no cluster says the cluster the line offered needs;
- 15: `dump-maps`, `node-preflight`, `waypoint-apply`, istioctl's `verify-install` and
  kubectl's `apply -f` get their lines;
- 16: `--kubeconfig a:b` is refused (one file, as kubectl's), with the $KUBECONFIG line.

In-process through kmeshctl.cli.main, no cluster (kubeconfigs point at 127.0.0.1:1); node
run's body is stubbed wherever it is typed (only its flag checks run).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

from kmeshctl import kube
from kmeshctl.cli.badinput import line_works
from kmeshctl.errors import UsageError
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p43_f43a import ROOT, _words
from test_p43_f43a import _offered as _pasted  # each line works and gets past every check (stubbed)
from test_p44_f44a import KUBECONFIG, _offered, here  # noqa: F401


# ------------------------------------------------------------------ 9. -q kept by the --xds-address lines


@pytest.mark.parametrize("address,meant", [
    ("istiod-1-22-6.istio-system:15012", "istiod-1-22-6.istio-system.svc:15012"),
    ("istiod.istio-system.svc.cluster.local:15012", "istiod.istio-system.svc:15012"),
    ("istiod.istio-system.svc:15010", "istiod.istio-system.svc:15012"),
    ("istiod.istio-system.svc:443", "istiod.istio-system.svc:15012"),
    ("https://istiod.istio-system.svc:15012", "istiod.istio-system.svc:15012"),
    ("localhost:15012", "istiod.istio-system.svc:15012"),
    ("127.0.0.1:15012", "istiod.istio-system.svc:15012"),
    ("0.0.0.0:15012", "istiod.istio-system.svc:15012"),
])
@pytest.mark.parametrize("command", [["render"], ["install", "--dry-run"]], ids=" ".join)
def test_an_xds_address_line_keeps_the_quiet_flag(address, meant, command, capsys, state_root,  # noqa: F811
                                                  offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *command, "--xds-address", address, "--cluster-id", "c1", "-q")
    tail = ["--dry-run", "-q"] if command[0] == "install" else ["-q"]
    assert offered == [["kmeshctl", command[0], "--xds-address", meant, "--cluster-id", "c1", *tail]], line
    code, _, err = cli(capsys, *offered[0][1:])  # render / an offline dry run: prints, changes nothing
    assert code == 0 and err == "", err


# ------------------------------------------------------------------ 10. an example for a missing or empty value


MAPS = ("km_frontend, km_service, km_endpoint, km_backend, km_manage, km_socket, km_idreg, km_authz_dst, "
        "km_authz_port, km_authz_rule, km_authz_pol, km_authz_stats")


@pytest.mark.parametrize("typed,said,works", [
    (["dump", "maps", "--map"], f"--map needs a value: --map NAME (one of {MAPS}), e.g. --map km_manage",
     "kmeshctl dump maps --map km_manage"),
    (["dump", "maps", "--map", ""], f"--map '': empty value; give NAME (one of {MAPS}), e.g. --map km_manage",
     "kmeshctl dump maps --map km_manage"),
    (["waypoint", "apply", "--revision", ""], "--revision '': empty value; give REVISION, e.g. --revision 1-22-6",
     "kmeshctl waypoint apply --revision 1-22-6 --dry-run"),
    (["waypoint", "apply", "-r"], "-r needs a value: -r REVISION, e.g. -r 1-22-6",
     "kmeshctl waypoint apply -r 1-22-6 --dry-run"),
    (["bench", "cleanup", "--run-id", ""], "--run-id '': empty value; give ID, e.g. --run-id 3f9a1c",
     "kmeshctl bench cleanup --run-id 3f9a1c"),
    (["dump", "maps", "--bpf-fs="], "--bpf-fs '': empty value; give DIR, e.g. --bpf-fs /sys/fs/bpf/kmesh", ""),
], ids=lambda x: " ".join(x) if isinstance(x, list) else None)
def test_a_missing_or_empty_value_gets_an_accepted_example(typed, said, works, capsys, state_root,  # noqa: F811
                                                           offline) -> None:  # noqa: F811
    line = _line(capsys, *typed)
    assert line.startswith(f"Error: {said} (see '"), line
    assert not works or line_works(shlex.split(works), ROOT), works


def test_an_empty_context_with_no_kubeconfig_says_so(capsys, state_root, offline, tmp_path) -> None:  # noqa: F811
    missing = tmp_path / "home" / ".kube" / "config"
    for typed in (["status", "--context="], ["status", "--context"]):
        line = _line(capsys, *typed)
        assert f"NAME (no kubeconfig to look one up in: {missing} does not exist; pass --kubeconfig PATH of the " \
               "file that has it)" in line, line


@pytest.mark.parametrize("typed", [["status", "--context=", "--kubeconfig", "kc.yaml", "-o", "json"],
                                   ["status", "--context", "", "--kubeconfig", "kc.yaml", "-o", "json"]],
                         ids=" ".join)
def test_an_empty_context_gets_the_current_one_s_line(typed, capsys, state_root, stubbed, here) -> None:  # noqa: F811
    line, offered = _pasted(capsys, *typed)
    assert "give NAME (contexts in kc.yaml: prod, dev); prod is its current context: " in line, line
    assert offered == _words("kmeshctl status --context prod --kubeconfig kc.yaml -o json"), line


# ------------------------------------------------------------------ 11. did-you-mean lines


@pytest.mark.parametrize("typed,said,lines", [
    (["help", "stauts"], "help: kmeshctl has no command stauts; did you mean status?", ["kmeshctl help status"]),
    (["help", "sandbox", "stat"], "did you mean status?", ["kmeshctl help sandbox status"]),
    (["help", "sandbx", "up"], "did you mean sandbox?", ["kmeshctl help sandbox up"]),
    (["help", "dump-maps"], "did you mean dump maps?", ["kmeshctl help dump maps"]),
], ids=lambda x: " ".join(x) if isinstance(x, list) and x and not x[0].startswith("kmeshctl") else None)
def test_a_help_typo_gets_the_help_line(typed, said, lines, capsys, state_root, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *typed)
    assert said in line, line
    assert offered == _words(*lines), line
    code, out, _ = cli(capsys, *offered[0][1:])
    assert code == 0 and out.startswith(f"Usage: kmeshctl {' '.join(offered[0][2:])} "), out


def test_a_quoted_sandbox_name_s_did_you_mean_gets_its_line(capsys, state_root, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "sandbox", "status", "--name", "t48a 1")
    assert "not a sandbox name; " in line and "did you mean --name t48a-1? `" in line, line
    assert offered == _words("kmeshctl sandbox status --name t48a-1"), line


@pytest.mark.parametrize("typed,said,lines", [
    (["dump", "maps", "--sandbox", "t48a 1", "-o", "json"], "did you mean --sandbox t48a-1?",
     ["kmeshctl dump maps --sandbox t48a-1 -o json"]),
    (["--version", "--client"], "No such option: --client; --client is the version command's",
     ["kmeshctl version --client"]),
    (["--client", "--version", "-q"], "--client is the version command's", ["kmeshctl version --client -q"]),
], ids=lambda x: " ".join(x) if isinstance(x, list) and x and not x[0].startswith("kmeshctl") else None)
def test_a_did_you_mean_gets_its_line(typed, said, lines, capsys, state_root, stubbed, offline) -> None:  # noqa
    line, offered = _pasted(capsys, *typed)
    assert said in line, line
    assert offered == _words(*lines), line


# ------------------------------------------------------------------ 12. node run's flag checks


@pytest.fixture
def may_load_bpf(monkeypatch) -> None:
    """node run's body is past its root check (its socket checks are made then)."""
    from kmeshctl.cli import node

    monkeypatch.setattr(node, "_may_load_bpf", lambda: True)


def test_a_port_clash_names_the_flag_typed(capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "node", "run", "--admin-port", "15020", "--log-level", "verbose")
    assert line.startswith("Error: --admin-port 15020: the same port as --metrics-port's default; give each its own "
                           "(defaults: admin 15200, metrics 15020): --metrics-port 15021; also --log-level "
                           "verbose: "), line
    assert offered == _words("kmeshctl node run --admin-port 15020 --metrics-port 15021"), line


def test_both_ports_typed_still_name_metrics(capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "node", "run", "--metrics-port", "15200", "--log-level", "verbose")
    assert line.startswith("Error: --metrics-port 15200: the same port as --admin-port; "), line
    assert offered == _words("kmeshctl node run --metrics-port 15020"), line


def test_an_admin_socket_is_said_with_the_other_values(capsys, state_root, stubbed, offline,  # noqa: F811
                                                       may_load_bpf) -> None:
    line = _line(capsys, "node", "run", "--admin-socket", "/proc/f49c.sock", "--log-level", "verbose")
    assert line.startswith("Error: --admin-socket /proc/f49c.sock: /proc is not writable (a kernel filesystem, "
                           "proc); give a path you can write to; also --log-level verbose: "), line


# ------------------------------------------------------------------ 14. dump's --pod with no cluster


@pytest.mark.parametrize("command", ["config", "maps"])
def test_a_pod_meant_with_no_cluster_says_the_cluster_it_needs(command, capsys, state_root, stubbed, offline,  # noqa
                                                               tmp_path) -> None:
    line = _line(capsys, "dump", command, "--pod", "KMESH")
    assert f"did you mean --pod kmesh? `kmeshctl dump {command} --pod kmesh` (a cluster's agent pod: none is " \
           f"configured, {tmp_path / 'home' / '.kube' / 'config'} does not exist; pass --kubeconfig PATH (or set " \
           "KUBECONFIG) and --context NAME too)" in line, line
    assert line_works(["kmeshctl", "dump", command, "--pod", "kmesh"], ROOT)


def test_a_pod_meant_with_a_cluster_is_as_it_was(capsys, state_root, stubbed, here) -> None:  # noqa: F811
    line = _line(capsys, "dump", "config", "--pod", "KMESH", "--kubeconfig", "kc.yaml")
    assert "none is configured" not in line, line


# ------------------------------------------------------------------ 15. other tools' command words


@pytest.mark.parametrize("typed,said,lines", [
    (["dump-maps", "-o", "json"], "did you mean dump maps?", ["kmeshctl dump maps -o json"]),
    (["node-preflight", "--no-mount"], "did you mean node preflight?", ["kmeshctl node preflight --no-mount"]),
    (["waypoint-apply", "-n", "default", "--dry-run"], "did you mean waypoint apply?",
     ["kmeshctl waypoint apply -n default --dry-run"]),
    (["verify-install"], "kmesh's install (istioctl's verify-install) is checked by `kmeshctl status`",
     ["kmeshctl status", "kmeshctl precheck"]),
], ids=lambda x: " ".join(x) if isinstance(x, list) and x and not x[0].startswith("kmeshctl") else None)
def test_another_tool_s_command_word_gets_its_line(typed, said, lines, capsys, state_root, stubbed,  # noqa: F811
                                                   offline) -> None:  # noqa: F811
    line, offered = _pasted(capsys, *typed)
    assert said in line, line
    assert offered == _words(*lines), line


def test_kubectl_apply_gets_kubectl_s_line(capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    line = _line(capsys, "-q", "apply", "-f", "x.yaml")
    assert "kmeshctl applies no manifest files (kubectl's apply): use kubectl, `kubectl apply -f x.yaml`; kmesh " \
           "itself is applied by kmeshctl install" in line, line


# ------------------------------------------------------------------ 16. --kubeconfig takes one file


@pytest.fixture
def two(here: Path) -> Path:  # noqa: F811
    (here / "kc2.yaml").write_text(KUBECONFIG)
    return here


def test_a_kubeconfig_list_typed_is_refused_with_the_kubeconfig_variable_line(capsys, state_root, stubbed,  # noqa
                                                                               two) -> None:
    line = _line(capsys, "status", "--kubeconfig", "kc.yaml:kc2.yaml", "-o", "json")
    assert line.startswith("Error: --kubeconfig kc.yaml:kc2.yaml: one file, as kubectl's --kubeconfig (no file has "
                           "that name; a list of kubeconfigs to merge is $KUBECONFIG's); "), line
    offered = re.findall(r"`(KUBECONFIG=[^`]*)`", line)
    assert offered == ["KUBECONFIG=kc.yaml:kc2.yaml kmeshctl status -o json"], line
    env, *words = shlex.split(offered[0])
    os.environ["KUBECONFIG"] = env.partition("=")[2]  # no_env's monkeypatch deletes it again afterwards
    try:
        assert line_works(words, ROOT), words
    finally:
        del os.environ["KUBECONFIG"]


def test_a_comma_list_typed_gets_the_kubeconfig_variable_line(capsys, state_root, stubbed, two) -> None:  # noqa
    line = _line(capsys, "--kubeconfig", "kc.yaml,kc2.yaml", "status")
    assert "or list them in $KUBECONFIG: `KUBECONFIG=kc.yaml:kc2.yaml kmeshctl status`" in line, line


def test_a_file_of_that_very_name_is_read(capsys, state_root, stubbed, two) -> None:  # noqa: F811
    (two / "kc.yaml:kc2.yaml").write_text(KUBECONFIG)
    code, _, err = cli(capsys, "status", "--kubeconfig", "kc.yaml:kc2.yaml")
    assert code == 7, err  # past every check: the stubbed body


def test_kubeconfig_in_the_environment_is_still_a_list(two) -> None:
    target = kube.KubeTarget("kc.yaml:kc2.yaml", "dev")
    kube.check_given_target(target, False, True)  # from $KUBECONFIG: a list, its context looked up in both
    assert kube.kubeconfig_entries("kc.yaml:kc2.yaml") == ["kc.yaml", "kc2.yaml"]
    with pytest.raises(UsageError, match="one file, as kubectl's --kubeconfig"):
        kube.check_given_target(target, True, False)
