"""Pass-47 fixer f47b (t47a 2, 3, 4, 9, 10, 12, 13, 14): a line offered changes nothing the user
did not name, and works when pasted.

- an example value in a line that changes things for real (no --dry-run): no line, the example
  said in words: -n default for a refused context namespace, also behind a mistyped --context or
  command; a made-up --name (`e.g. --name w-1wp`); a value typed left out for its default;
- `node preflight --dry-run`: the line that changes nothing is `node preflight --no-mount`;
- demo's --waypoint is checked with the line's other values (one line mends both);
- enable-ns / disable-ns `-n foo` beside namespace arguments: said to be one more namespace to
  change; a refused one (kube-system) left out, said so;
- `sandbox status NAME` / `demo traffic-shift WORD`: the sandbox made keeps the name typed; none
  is offered with --target cluster;
- a mended --dry-run line leaves out --timeout (no effect with --dry-run), said so;
- NAMESPACE/NAME typed: its namespace is the user's (`(Team-A/wp1 given as --name wp1 -n team-a)`).

In-process through kmeshctl.cli.main, every command's own work stubbed (no cluster configured).
"""

from __future__ import annotations

import shlex

import pytest

from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p43_f43a import _offered, _words
from test_p44_f44b import kubeconfigs  # noqa: F401


# ------------------------------------------------------------------ 2. a mistyped --context or command


@pytest.mark.parametrize("typed", [
    "--kubeconfig kc1.yaml --context Dev waypoint apply --name wp",
    "--kubeconfig kc1.yaml --context Dev waypoint apply --name Wp",
    "waypoint aply --name wp --kubeconfig kc1.yaml --context Dev",
    "--kubeconfig kc1.yaml --context dev waypoint apply --enroll-namespace --name wp",
], ids=["context", "context-and-name", "command", "enroll-namespace"])
def test_a_refused_context_namespace_gets_no_real_line_behind_another_slip(typed, kubeconfigs, state_root, stubbed,
                                                                           capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split(typed))
    assert offered == [], line
    assert "namespace kube-system (from context dev) is Kubernetes' own" in line, line
    # pass 48 (t47a 15): the reason is the context's namespace, said before the example
    assert "no line is offered: waypoint apply changes the cluster, and the namespace it would use, kube-system " \
           "(from context dev), is refused; -n default is only an example" in line, line


def test_a_dry_run_behind_a_mistyped_context_keeps_its_line(kubeconfigs, state_root, stubbed, capsys,  # noqa: F811
                                                            offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split("--kubeconfig kc1.yaml --context Dev waypoint apply --name wp "
                                                  "--dry-run"))
    assert offered == _words("kmeshctl --kubeconfig kc1.yaml --context dev waypoint apply --name wp --dry-run "
                             "-n default"), line


# ------------------------------------------------------------------ 3. example names, defaults


@pytest.mark.parametrize("typed,said", [
    ("waypoint delete -n team-a --name 1wp --ignore-not-found=1",
     "e.g. --name w-1wp; no line is offered: waypoint delete changes the cluster, and --name w-1wp is only an "
     "example; give --name the name you mean (see"),
    ("waypoint apply -n team-a --name 1wp -o jsn",
     "no line is offered: waypoint apply changes the cluster, and --name w-1wp is only an example"),
    ("waypoint apply --name wp --replicas 99 -n Foo",
     "did you mean -n foo?; no line is offered: waypoint apply changes the cluster, and --replicas 99 left out "
     "would give the default (1); give --replicas a value it takes (see"),
    ("waypoint apply --enroll-namespace --name 1a",
     "no line is offered: waypoint apply changes the cluster, and --name w-1a is only an example"),
], ids=["delete-on-off", "apply", "replicas", "made-up-unsaid"])
def test_an_example_value_gets_no_line_that_changes_the_cluster(typed, said, state_root, stubbed, capsys,  # noqa: F811
                                                                offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split(typed))
    assert said in line, line
    assert offered == [] and "every value mended" not in line, line


def test_an_example_name_refused_by_the_command_gets_no_line(state_root, capsys, offline) -> None:  # noqa: F811
    """Refused by the command's own body (not stubbed: it refuses before it connects)."""
    line, offered = _offered(capsys, "waypoint", "delete", "-n", "team-a", "--name", "1wp")
    assert "e.g. --name w-1wp; no line is offered: waypoint delete changes the cluster, and --name w-1wp is only " \
           "an example" in line, line
    assert offered == [], line


@pytest.mark.parametrize("typed,lines", [
    ("waypoint apply -n team-a --name 1wp --dry-run -o jsn",
     _words("kmeshctl waypoint apply -n team-a --name w-1wp --dry-run -o json")),
    ("waypoint apply --name wp --replicas 99 -n Foo --dry-run",
     _words("kmeshctl waypoint apply --name wp -n foo --dry-run")),
    ("enable-ns Team_A --wait=1 --timeout 5x", _words("kmeshctl enable-ns team-a --wait")),
], ids=["dry-run-name", "dry-run-default", "timeout-default"])
def test_a_dry_run_or_a_wait_bound_keeps_its_line(typed, lines, state_root, stubbed, capsys,  # noqa: F811
                                                  offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split(typed))
    assert offered == lines, line


# ------------------------------------------------------------------ 4. node preflight --dry-run


@pytest.mark.parametrize("typed", ["node preflight --dry-run", "node preflight --dryrun",
                                   "node preflight --no-mount --dry-run"])
def test_preflight_dry_run_offers_no_mount(typed, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split(typed))
    assert offered == _words("kmeshctl node preflight --no-mount"), line
    assert "changes nothing" not in line and "it mounts what is missing (bpffs, cgroup2) unless --no-mount" in line


# ------------------------------------------------------------------ 9. demo --waypoint NS/NAME with another slip


@pytest.mark.parametrize("typed,lines", [
    ("demo traffic-shift --target cluster --waypoint team-a/wp -o jsn",
     _words("kmeshctl demo traffic-shift --target cluster --waypoint wp -o json -n team-a")),
    ("demo traffic-shift --target=cluster -n Team_A --waypoint Wp",
     _words("kmeshctl demo traffic-shift --target=cluster -n team-a --waypoint wp")),
], ids=["ns-name", "namespace"])
def test_demo_waypoint_is_mended_with_the_other_values(typed, lines, state_root, stubbed, capsys,  # noqa: F811
                                                       offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split(typed))
    assert offered == lines, line
    assert "every value mended" in line, line


# ------------------------------------------------------------------ 10. enable-ns / disable-ns -n beside arguments


@pytest.mark.parametrize("typed,lines,said", [
    ("enable-ns team-a -n foo", _words("kmeshctl enable-ns team-a foo"),
     "(foo added as a namespace to enroll: enable-ns changes each namespace named, -n is not where it runs)"),
    ("disable-ns team-a --namespace foo", _words("kmeshctl disable-ns team-a foo"),
     "(foo added as a namespace to release: disable-ns changes each namespace named"),
    ("-n foo enable-ns bar", _words("kmeshctl enable-ns foo bar"), "(foo added as a namespace to enroll"),
    ("enable-ns team-a -n kube-system", _words("kmeshctl enable-ns team-a"),
     "(-n kube-system left out: namespace kube-system is Kubernetes' own)"),
    ("enable-ns -n team-a", _words("kmeshctl enable-ns team-a"), "give the namespaces as arguments"),
], ids=["enable", "disable", "leading", "kube-system", "alone"])
def test_a_namespace_flag_beside_arguments_is_said(typed, lines, said, state_root, stubbed, capsys,  # noqa: F811
                                                   offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split(typed))
    assert offered == lines, line
    assert said in line, line
    if typed.endswith("-n team-a"):
        assert "added as" not in line, line


# ------------------------------------------------------------------ 12. the sandbox made keeps the name typed


@pytest.mark.parametrize("typed,lines", [
    ("sandbox status t47b-x", _words("kmeshctl sandbox up --name t47b-x")),
    ("sandbox status T47b_x -o jsn", _words("kmeshctl sandbox up --name t47b-x")),
    ("demo traffic-shift extra", _words("kmeshctl sandbox up")),  # a stray word need not be a sandbox (t41b 6)
    ("demo traffic-shift --target cluster extra", []),
], ids=["name", "name-mended", "demo", "demo-cluster"])
def test_the_sandbox_made_keeps_the_name_typed(typed, lines, state_root, stubbed, capsys,  # noqa: F811
                                               offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split(typed))
    assert offered == lines, line


# ------------------------------------------------------------------ 13. --timeout with --dry-run


@pytest.mark.parametrize("typed,lines,left", [
    ("waypoint apply --name Wp -n team-a --replicas 2 --wait --timeout 60s --dry-run -o yml",
     _words("kmeshctl waypoint apply --name wp -n team-a --replicas 2 --dry-run -o yaml"), "--timeout 60s"),
    ("install --cluster-id c1 --xds-address x:1 --dry-run --wait --timeout 60s -o yml",
     _words("kmeshctl install --cluster-id c1 --xds-address x:1 --dry-run -o yaml"), "--timeout 60s"),
    ("uninstall --dry-run --timeout=60s -o yml", _words("kmeshctl uninstall --dry-run -o yaml"), "--timeout=60s"),
], ids=["waypoint", "install", "uninstall"])
def test_a_dry_run_line_leaves_out_the_timeout(typed, lines, left, state_root, stubbed, capsys,  # noqa: F811
                                               offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split(typed))
    assert offered == lines, line
    assert f"({left} left out: no effect with --dry-run)" in line, line


# ------------------------------------------------------------------ 14. NAMESPACE/NAME typed


@pytest.mark.parametrize("typed,note", [
    ("waypoint delete Team-A/wp1", "(Team-A/wp1 given as --name wp1 -n team-a)"),
    ("waypoint delete team-a/wp1", "(team-a/wp1 given as --name wp1 -n team-a)"),
], ids=["mended", "as-typed"])
def test_the_namespace_of_ns_name_is_no_example(typed, note, state_root, stubbed, capsys,  # noqa: F811
                                                offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *shlex.split(typed))
    assert offered == _words("kmeshctl waypoint delete --name wp1 -n team-a"), line
    assert note in line and "only an example" not in line, line
