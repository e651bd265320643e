"""Pass 43, fixer f43c: t42b findings 11 (context messages), 12 (offline commands and a
kubeconfig they never use), 13 (waypoint apply's namespace from the context), 16 (polish)
and leftovers (-q and a hint's look-up, an IPv6 link-local --xds-address, a command typo
with several sandboxes up). Every offered line is checked to work pasted
(badinput.line_works); no cluster: kubeconfigs point at 127.0.0.1:1 (or a loopback port
that never answers)."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Iterator

import pytest

from listening import silent_listener
from test_cli_kinds import _record, cli, no_env, state_root  # noqa: F401

PID = os.getpid()

_KUBECONFIG = """apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {{server: "{server}", insecure-skip-tls-verify: true}}
users:
- name: u
  user: {{token: abc}}
contexts:
- name: Prod Cluster
  context: {{cluster: c, user: u, namespace: team-a}}
- name: prod
  context: {{cluster: c, user: u}}
- name: dev
  context: {{cluster: c, user: u, namespace: kube-system}}
- name: "-dash"
  context: {{cluster: c, user: u}}
- name: My Ctx
  context: {{cluster: nope, user: u}}
{current}
"""


def _kubeconfig(tmp_path: Path, current: str = "current-context: prod", server: str = "https://127.0.0.1:1",
                name: str = "kc.yaml") -> str:
    path = tmp_path / name
    path.write_text(_KUBECONFIG.format(server=server, current=current))
    return str(path)


def _lines(err: str) -> list[str]:
    return re.findall(r"`(kmeshctl [^`]*)`", err)


def _works(line: str) -> bool:
    from typer.main import get_command

    from kmeshctl.cli import app
    from kmeshctl.cli.badinput import line_works

    return line_works(shlex.split(line), get_command(app))


def _one_line(err: str) -> str:
    lines = _lines(err)
    assert len(lines) == 1 and _works(lines[0]), err
    return lines[0]


# ------------------------------------------------------------------ t42b 11: context messages


@pytest.mark.parametrize("typed,meant", [(" prod", "prod"), ("Prod  Cluster", "'Prod Cluster'"), ("Prod", "prod")])
def test_a_context_off_by_spaces_or_case_gets_its_did_you_mean_line(tmp_path, capsys, no_env, typed, meant) -> None:
    kc = _kubeconfig(tmp_path)
    code, _, err = cli(capsys, "--kubeconfig", kc, "--context", typed, "status")
    assert code == 2 and f"(contexts: 'Prod Cluster', prod, dev, -dash, 'My Ctx'); did you mean {meant}? " in err, err
    assert _one_line(err) == f"kmeshctl --kubeconfig {kc} --context {meant} status", err


def test_a_current_context_that_is_none_of_the_contexts_gets_the_line_with_the_one_meant(tmp_path, capsys,
                                                                                        no_env) -> None:
    kc = _kubeconfig(tmp_path, "current-context: Prod")
    code, _, err = cli(capsys, "--kubeconfig", kc, "status", "-o", "json")
    assert code == 2, err
    assert (f"current-context Prod is not one of its contexts (contexts: 'Prod Cluster', prod, dev, -dash, 'My Ctx'); "
            f"did you mean prod? `kmeshctl --kubeconfig {kc} --context prod status -o json`, or fix current-context"
            ) in err, err
    assert _works(_lines(err)[0]), err


def test_context_names_are_quoted_where_the_shell_needs_it(tmp_path, capsys, no_env) -> None:
    kc = _kubeconfig(tmp_path, "")
    code, _, err = cli(capsys, "--kubeconfig", kc, "status")
    assert code == 2 and "has no current-context (contexts: 'Prod Cluster', prod, dev, -dash, " \
                         "'My Ctx'); pass --context with one of them" in err, err
    code, _, err = cli(capsys, "--kubeconfig", kc, "--context", "My Ctx", "status")
    assert code == 2 and "context 'My Ctx' in kubeconfig" in err and "names cluster nope, which is not there" in err


def test_a_context_named_with_a_leading_dash_gets_the_equals_line(tmp_path, capsys, no_env) -> None:
    kc = _kubeconfig(tmp_path)
    code, _, err = cli(capsys, "--kubeconfig", kc, "--context", "-dash", "status")
    assert code == 2 and "-dash is a context: a name starting with '-' goes after =, " in err, err
    assert _one_line(err) == f"kmeshctl --kubeconfig {kc} --context=-dash status", err


# ------------------------------------------------------------------ t42b 12: offline commands, an unused kubeconfig


@pytest.mark.parametrize("flags", [["--kubeconfig", "/nope-f43c"], ["--context", "nope"]])
def test_completion_ignores_a_kubeconfig_it_never_reads(tmp_path, capsys, no_env, flags) -> None:
    kc = _kubeconfig(tmp_path)
    given = flags if flags[0] == "--kubeconfig" else ["--kubeconfig", kc, *flags]
    code, out, err = cli(capsys, *given, "completion", "bash")
    assert code == 0 and "_kmeshctl_completion()" in out and err == "", err


def test_render_ignores_a_bad_context_and_its_warning_line_leaves_it_out(tmp_path, capsys, no_env) -> None:
    kc = _kubeconfig(tmp_path)
    code, out, err = cli(capsys, "--kubeconfig", kc, "--context", "nope", "render", "--xds-address",
                         "istiod.istio-system.svc:15012", "--cluster-id", "c1")
    assert code == 0 and "kind: DaemonSet" in out, err
    assert f"(--context nope left out: --context nope: no such context in {kc}" in err, err
    assert _one_line(err) == (f"kmeshctl --kubeconfig {kc} install --xds-address istiod.istio-system.svc:15012 "
                              "--cluster-id c1 --dry-run"), err
    code, out, err = cli(capsys, "--kubeconfig", "/nope-f43c", "render", "--xds-address",
                         "istiod.istio-system.svc:15012", "--cluster-id", "c1", "-o", "json")
    assert code == 0 and '"kind": "List"' in out and "(--kubeconfig /nope-f43c left out: " in err, err
    assert "--kubeconfig" not in _one_line(err), err


# ------------------------------------------------------------------ t42b 13: the context's namespace


def test_waypoint_apply_says_the_refused_namespace_came_from_the_context_with_the_line(tmp_path, capsys,
                                                                                     no_env) -> None:
    kc = _kubeconfig(tmp_path)
    code, _, err = cli(capsys, "--kubeconfig", kc, "--context", "dev", "waypoint", "apply", "--dry-run", "-o", "yaml")
    assert code == 2 and "namespace kube-system (from context dev) is Kubernetes' own: a waypoint there serves no " \
                         "app (nothing was applied); pass -n with the namespace of the Services that will use it, " \
                         "e.g. -n default: `" in err, err
    assert _one_line(err) == f"kmeshctl --kubeconfig {kc} --context dev waypoint apply --dry-run -o yaml -n default"


def test_waypoint_apply_typed_n_is_mended_in_place(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "apply", "--namespace=istio-system", "--dry-run")
    assert code == 2 and "namespace istio-system holds Istio's control plane (istiod)" in err, err
    assert _one_line(err) == "kmeshctl waypoint apply --namespace=default --dry-run"


# ------------------------------------------------------------------ t42b 16: polish


def test_a_waypoint_name_example_and_its_line_are_separated(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "apply", "--name", "1wp")
    # p47 f47b (t47a 3): a made-up name gets no real apply line, the example said in words
    assert code == 2 and "e.g. --name w-1wp; no line is offered: waypoint apply changes the cluster, and --name " \
                         "w-1wp is only an example" in err and "`" not in err, err
    code, _, err = cli(capsys, "waypoint", "apply", "--name", "1wp", "--dry-run")
    assert code == 2 and "e.g. --name w-1wp: `kmeshctl waypoint apply --name w-1wp --dry-run`" in err, err
    _one_line(err)


def test_a_refused_spelled_namespace_reads_as_a_sentence_with_a_line(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "apply", "-n", "Kube-System", "--dry-run")
    assert code == 2 and "-n kube-system, the name it spells, is refused too (it is Kubernetes' own), e.g. -n " \
                         "default: `kmeshctl waypoint apply -n default --dry-run`" in err, err
    _one_line(err)


@pytest.mark.parametrize("typed,line", [(["--shell", "bash"], "kmeshctl completion bash"),
                                        (["--shell=zsh"], "kmeshctl completion zsh")])
def test_completion_shell_flag_offers_the_shell_as_its_argument(capsys, no_env, typed, line) -> None:
    code, _, err = cli(capsys, "completion", *typed)
    assert code == 2 and "No such option: --shell; the shell is completion's argument, not a flag: `" in err, err
    assert _one_line(err) == line


def test_output_wide_on_a_command_of_data_formats_offers_the_line_without_it(capsys, no_env) -> None:
    code, _, err = cli(capsys, "uninstall", "--output=table", "--dry-run")
    assert code == 2 and "--output table: not an accepted value; use one of yaml, json; leave --output out for its " \
                         "plain lines (it has no table form): `" in err, err
    assert _one_line(err) == "kmeshctl uninstall --dry-run"


def test_click_words_after_also_read_lower_case(capsys, no_env) -> None:
    code, _, err = cli(capsys, "waypoint", "status", "1wp", "-o", "jsn")
    assert code == 2 and "; also got unexpected extra argument(s) (1wp)" in err and "also Got" not in err, err
    assert all(_works(line) for line in _lines(err)), err


def test_node_cleanup_as_another_user_offers_the_line_to_run_as_root(tmp_path) -> None:
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.skip("needs root to become another user")
    root = Path(__file__).resolve().parent.parent
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env",
                             f"PYTHONPATH={root}", f"HOME={tmp_path}", sys.executable, "-P", "-m", "kmeshctl", "node",
                             "cleanup", "--ignore-not-found"], capture_output=True, text=True, timeout=60, cwd="/")
    assert result.returncode == 1 and result.stderr.strip() == (
        "Error: node cleanup needs root (the pinned data path, the CNI config): run it as root: "
        "`kmeshctl node cleanup --ignore-not-found`"), result
    assert _works(result.stderr.split("`")[1])


# ------------------------------------------------------------------ leftovers


@pytest.fixture
def silent_api(tmp_path: Path) -> Iterator[str]:
    """A kubeconfig whose server accepts connections and never answers (loopback)."""
    with silent_listener() as port:
        yield _kubeconfig(tmp_path, server=f"https://127.0.0.1:{port}", name=f"silent-{PID}.yaml")


def test_quiet_hides_the_waiting_note_of_a_hints_look_up(silent_api, capsys, no_env) -> None:
    code, _, err = cli(capsys, "--kubeconfig", silent_api, "--request-timeout", "1.5", "install")
    assert code == 2 and "waiting for the Kubernetes API at https://127.0.0.1:" in err, err
    code, _, err = cli(capsys, "--kubeconfig", silent_api, "--request-timeout", "1.5", "-q", "install")
    assert code == 2 and "waiting for" not in err and "--cluster-id is required" in err, err


def test_a_link_local_ipv6_xds_address_says_why_the_bracketed_one_is_not_offered(capsys, no_env) -> None:
    code, _, err = cli(capsys, "render", "--xds-address", "fe80::1", "--cluster-id", "c1")
    assert code == 2 and "--xds-address fe80::1: write an IPv6 host in brackets, but '[fe80::1]:15012' is refused " \
                         "too: fe80::1 is a link-local address" in err, err
    assert _one_line(err) == "kmeshctl render --xds-address istiod.istio-system.svc:15012 --cluster-id c1"
    code, _, err = cli(capsys, "render", "--xds-address", "fd00::7", "--cluster-id", "c1", "-o", "yaml")
    assert code == 2 and "refused too" not in err, err
    assert _one_line(err) == "kmeshctl render --xds-address '[fd00::7]:15012' --cluster-id c1 -o yaml"


def test_a_command_typo_with_several_sandboxes_names_one_and_lists_them(state_root, capsys, no_env) -> None:  # noqa: F811
    first, second = f"f43c-a{PID % 1000}", f"f43c-b{PID % 1000}"
    _record(first)
    _record(second)
    code, _, err = cli(capsys, "dump", "mpas", "-o", "json")
    assert code == 2 and f"(sandboxes: {first}, {second}: pick one)" in err, err
    assert _one_line(err) == f"kmeshctl dump maps -o json --sandbox {first}"
