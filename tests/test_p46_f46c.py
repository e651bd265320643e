"""Pass-46 fixer f46c (t45a 8, 9, 10, 11): a line offered never changes the machine or the
cluster in a way the user did not ask for.

- a group given a flag and no command (`node --bpf-fs DIR`, `bench --run-id ID`): a command
  that changes things (command_hints.CHANGES) is named in words, never as a line; a reading
  command that takes the flags is the line (`dump maps --bpf-fs DIR` for a node flag);
- a refused -n (typed, or the kubeconfig context's) replaced by an example namespace: no line
  for a command that changes things for real, only for a read or a dry run;
- `--dry-run=false|0|none` (and spaced): the real line is offered, said to run for real;
- `waypoint apply --enroll-namespace ... --dry-run`: the kubectl label line is a dry run too.

In-process through kmeshctl.cli.main, every command's own work stubbed (no cluster configured).
"""

from __future__ import annotations

import shlex

import pytest

from kmeshctl.cli.command_hints import CHANGES
from kmeshctl.cli.option_hints import READ_ONLY
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_p23_command_hints import _line, stubbed  # noqa: F401
from test_p29_tier_hints import offline  # noqa: F401
from test_p43_f43a import ROOT, _offered, _words
from test_p44_f44b import _kubectl, kubeconfigs  # noqa: F401


def _split(typed: str) -> list[str]:
    return shlex.split(typed)


# ------------------------------------------------------------------ 8. a group with no command


@pytest.mark.parametrize("typed,said,lines", [
    ("node --bpf-fs /sys/fs/bpf",
     "missing a command; --bpf-fs goes with node cleanup or node run, and each changes this node: type the one you "
     "mean; what this node has is read by `", _words("kmeshctl dump maps --bpf-fs /sys/fs/bpf")),
    ("node --ignore-not-found",
     "missing a command; --ignore-not-found goes with node cleanup, which changes this node: type it if you mean "
     "to run it (see", []),
    ("node --admin-port 15201", "--admin-port goes with node run, which changes this node",
     _words("kmeshctl dump maps --admin-port 15201", "kmeshctl dump config --admin-port 15201")),
    ("node --cni-conf-dir /etc/cni/net.d",
     "--cni-conf-dir goes with node cleanup or node run, and each changes this node: type the one you mean (see", []),
    ("bench --run-id abcdef",
     "--run-id goes with bench cleanup, which changes this machine: type it if you mean to run it (see", []),
    ("waypoint --replicas 2", "--replicas goes with waypoint apply, which changes the cluster", []),
    ("sandbox --force", "--force goes with sandbox down, which changes this machine", []),
    ("waypoint --dry-run=false --name wp",
     "--dry-run and --name go with waypoint apply or waypoint delete, and each changes the cluster", []),
    ("demo -n", "-n needs a value (-n NAMESPACE) and a command; -n goes with demo traffic-shift, which changes the "
                "cluster or a sandbox: type it if you mean to run it", []),
    ("bench -o", "-o needs a value (-o table|wide|json|yaml) and a command; -o goes with bench dataplane, which "
                 "changes this machine", []),
    ("-n demo", "-n needs a value (-n NAME), not the command demo; -n goes with demo traffic-shift, which changes", []),
], ids=lambda v: v if isinstance(v, str) and " " in v and not v.startswith(("missing", "-")) else None)
def test_a_group_with_no_command_never_offers_a_line_that_changes_things(typed, said, lines, capsys, state_root,
                                                                          stubbed, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *_split(typed))
    assert said in line, line
    assert offered == lines, line
    assert "--proc-root" not in line, line  # never a flag the user did not type


@pytest.mark.parametrize("typed,lines", [
    ("node --no-mount", _words("kmeshctl node preflight --no-mount")),
    ("waypoint --name wp", _words("kmeshctl waypoint status --name wp")),
    ("waypoint --dry-run --name wp", _words("kmeshctl waypoint apply --dry-run --name wp",
                                            "kmeshctl waypoint delete --dry-run --name wp")),
    ("node -o", _words("kmeshctl node preflight -o table")),
    ("-n waypoint", _words("kmeshctl waypoint list -n default")),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_group_with_no_command_still_offers_a_read_or_a_dry_run(typed, lines, capsys, state_root, stubbed,
                                                                   offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *_split(typed))
    assert offered == lines, line


def test_every_command_is_known_to_read_or_to_change() -> None:
    """A new command is put in option_hints.READ_ONLY or command_hints.CHANGES (sandbox exec runs
    the user's own command: its example, a curl, is offered)."""
    def leaves(group, path):
        for name, sub in group.commands.items():
            if getattr(sub, "hidden", False) or name == "help":
                continue
            if hasattr(sub, "commands"):
                yield from leaves(sub, [*path, name])
            else:
                yield " ".join([*path, name])

    unknown = [name for name in leaves(ROOT, []) if name not in READ_ONLY and name not in CHANGES]
    assert unknown == ["sandbox exec"], unknown
    assert not set(READ_ONLY) & set(CHANGES)


# ------------------------------------------------------------------ 9. an example namespace


@pytest.mark.parametrize("typed,said", [
    ("uninstall -n Kube_System -o yml",
     "did you mean yaml? (use one of yaml, json); no line is offered: uninstall changes the cluster, and -n "
     "kmesh-system in place of -n Kube_System is only an example; give -n the namespace you mean (see"),
    ("waypoint apply --name wp -n Kube-System --replicas 2",
     "e.g. -n default; no line is offered: waypoint apply changes the cluster, and -n default in place of -n "
     "Kube-System is only an example"),
    ("uninstall --dry-run=none -n kube-system", "and -n kmesh-system in place of -n kube-system is only an example"),
    ("waypoint apply --name wp --dry-run=off -n Kube-System", "and -n default in place of -n Kube-System"),
    ("uninstall Kube_System", "did you mean --namespace kube-system?; no line is offered: uninstall changes the "
     "cluster, and -n kmesh-system is only an example"),
    ("-n uninstall", "-n needs a value (-n NAME), not the command uninstall; no line is offered: uninstall changes "
                     "the cluster, and -n kmesh-system is only an example; give -n the namespace you mean"),
], ids=lambda v: v if isinstance(v, str) and not v.startswith(("did", "use", "e.g.", "no ", "and")) else None)
def test_an_example_namespace_gets_no_line_that_changes_the_cluster(typed, said, capsys, state_root, stubbed,
                                                                     offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *_split(typed))
    assert said in line, line
    assert offered == [] and "every value mended" not in line, line


@pytest.mark.parametrize("typed,said", [
    ("uninstall -n kube-system",
     "use a dedicated one (default kmesh-system); no line is offered: uninstall changes the cluster, and -n "
     "kmesh-system in place of -n kube-system is only an example"),
    ("install --cluster-id c1 --xds-address x:1 -n kube-system",
     "no line is offered: install changes the cluster, and -n kmesh-system in place of -n kube-system"),
], ids=["uninstall", "install"])
def test_a_reserved_namespace_refused_by_the_command_gets_no_example_line(typed, said, capsys, state_root,  # noqa: F811
                                                                          offline) -> None:  # noqa: F811
    """Refused by the command's own body (not stubbed: it refuses before it connects)."""
    line, offered = _offered(capsys, *_split(typed))
    assert said in line, line
    assert offered == [], line


@pytest.mark.parametrize("typed,lines", [
    ("uninstall -n Kube_System -o yml --dry-run", _words("kmeshctl uninstall -n kmesh-system -o yaml --dry-run")),
    ("waypoint apply --name wp -n Kube-System --replicas 2 --dry-run",
     _words("kmeshctl waypoint apply --name wp -n default --replicas 2 --dry-run")),
    ("waypoint delete --name wp -n Kube-System", _words("kmeshctl waypoint delete --name wp -n kube-system")),
    ("status -n Kube_System", _words("kmeshctl status -n kube-system")),
    ("-n uninstall --dry-run", _words("kmeshctl uninstall --dry-run -n kmesh-system")),
], ids=lambda v: v if isinstance(v, str) else None)
def test_a_dry_run_a_read_or_the_name_typed_keeps_its_line(typed, lines, capsys, state_root, stubbed,
                                                           offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *_split(typed))
    assert offered == lines, line
    assert "is only an example" not in line, line


def test_a_context_namespace_refused_gets_no_line_that_changes_the_cluster(
        kubeconfigs, state_root, stubbed, capsys, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "--kubeconfig", "kc1.yaml", "--context", "dev", "waypoint", "apply",
                             "--name", "wp", "--replicas", "30")
    assert "namespace kube-system (from context dev) is Kubernetes' own" in line, line
    # pass 48 (t47a 15): the reason is the context's namespace, said before the example
    assert "no line is offered: waypoint apply changes the cluster, and the namespace it would use, kube-system " \
           "(from context dev), is refused; -n default is only an example" in line, line
    assert offered == [], line
    line, offered = _offered(capsys, "--kubeconfig", "kc1.yaml", "--context", "dev", "waypoint", "apply",
                             "--enroll-namespace", "--name", "wp")
    assert offered == [] and "kubectl" not in line, line
    assert "opt the namespace in with the label istio.io/use-waypoint=wp" in line, line


# ------------------------------------------------------------------ 10. a dry run that asks for none


@pytest.mark.parametrize("typed,real,done", [
    ("uninstall --dry-run=none -o yml", "kmeshctl uninstall -o yaml", "uninstalls"),
    ("uninstall --dry-run false", "kmeshctl uninstall", "uninstalls"),
    ("install --cluster-id c1 --xds-address x:1 --dry-run=false -o yml",
     "kmeshctl install --cluster-id c1 --xds-address x:1 -o yaml", "installs"),
    ("install --cluster-id c1 --xds-address x:1 --dry-run none", "kmeshctl install --cluster-id c1 --xds-address x:1",
     "installs"),
    ("waypoint delete --name wp --dry-run=false -n Default", "kmeshctl waypoint delete --name wp -n default",
     "deletes"),
    ("waypoint delete --name wp --dry-run=0", "kmeshctl waypoint delete --name wp", "deletes"),
    ("waypoint apply --name wp --dry-run=0 --wait=yes", "kmeshctl waypoint apply --name wp --wait", "applies"),
    ("waypoint apply --name wp --dry-run none", "kmeshctl waypoint apply --name wp", "applies"),
], ids=lambda v: v if isinstance(v, str) and " " in v and not v.startswith("kmeshctl") else None)
def test_no_dry_run_asked_gets_the_real_line_said_to_run_for_real(typed, real, done, capsys, state_root, stubbed,
                                                                   offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *_split(typed))
    assert offered == [shlex.split(real)], line
    assert f"`{real}` (this line {done} for real)" in line, line


def test_a_dry_run_asked_gets_no_real_run_note(capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, "waypoint", "apply", "--name", "wp", "--dry-run=true")
    assert offered == _words("kmeshctl waypoint apply --name wp --dry-run") and "for real" not in line, line


def test_a_help_line_is_never_said_to_run_for_real(capsys, state_root, stubbed, offline) -> None:  # noqa: F811
    line = _line(capsys, "node", "cleanup", "--dry-run=false")
    assert "`kmeshctl node cleanup --help` says what it changes" in line and "for real" not in line, line


# ------------------------------------------------------------------ 11. the label line of a dry run


@pytest.mark.parametrize("typed,kmeshctl,kubectl", [
    ("waypoint apply --enroll-namespace=true --name wp -n Foo --dry-run", "kmeshctl waypoint apply --name wp -n foo "
     "--dry-run", "kubectl label namespace foo istio.io/use-waypoint=wp --dry-run=server"),
    ("waypoint apply --enroll-namespace --name wp -n foo --dry-run=server -o yml",
     "kmeshctl waypoint apply --name wp -n foo --dry-run -o yaml",
     "kubectl label namespace foo istio.io/use-waypoint=wp --dry-run=server"),
    ("waypoint apply --enroll-namespace --name wp -n foo", "kmeshctl waypoint apply --name wp -n foo",
     "kubectl label namespace foo istio.io/use-waypoint=wp"),
], ids=["dry-run", "dry-run-server", "no-dry-run"])
def test_the_label_line_is_a_dry_run_when_one_is_typed(typed, kmeshctl, kubectl, capsys, state_root, stubbed,
                                                       offline) -> None:  # noqa: F811
    line, offered = _offered(capsys, *_split(typed))
    assert offered == [shlex.split(kmeshctl)], line
    assert _kubectl(line) == shlex.split(kubectl), line

