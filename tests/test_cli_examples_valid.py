"""Issue 14, kind "every example a validation error offers is accepted": a message that
ends `e.g. VALUE` (or `e.g. FLAG VALUE`, a list of values, a command to paste) offers
something the same flag takes. The walk gives every name flag of every command a bad
value, and the explicit table the flags checked in a command's body; each example the
error offers is fed back, and must pass that flag's checks (`precheck -n BAD` must not
offer `default`, which precheck refuses as kmesh's own namespace).

Fed-back runs are made harmless: a --kubeconfig that does not exist stops every command
after its flag checks and before it does anything (exit 2 naming --kubeconfig), and the
cluster commands also run against a kubeconfig whose server refuses connections (their
body's checks come before the first connection: exit 1 "cannot reach")."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from test_cli_kinds import NAMESPACE_NEEDS, REQUIRED_ARGS, _dead_kubeconfig, cli, leaf_commands, no_env  # noqa: F401

MISSING = "/nonexistent/kmeshctl-examples/kubeconfig"
# a bad value per parameter checked as a Kubernetes (or sandbox, cluster id, network) name; the
# namespaces' have no likely meaning (`BAD` is met with `did you mean bad?`, not an example)
BAD_NAMES = {"namespace": "bad_", "istio_namespace": "bad_", "pod_namespace": "bad_", "pod_name": "Bad_Pod",
             "pod": "Bad_Pod", "node_name": "Bad_Node", "service_account": "Bad_SA", "sandbox": "Bad!",
             "cluster_id": "-c1-", "network": "bad net"}
# cluster commands: a fed-back example also runs to the first connection (refused)
CLUSTER = {("install",), ("uninstall",), ("precheck",), ("status",), ("version",), ("enable-ns",), ("disable-ns",),
           ("waypoint", "apply"), ("waypoint", "list"), ("waypoint", "status"), ("waypoint", "delete")}
SKIP = {("help",), ("completion",)}
XDS = ["--xds-address", "istiod.istio-system.svc:15012"]
# what a command needs besides the flag under test to get past its own checks
BASE_ARGS = {("render",): [*XDS, "--cluster-id", "c1"], ("install",): ["--cluster-id", "c1", "--no-wait"]}
# `e.g. VALUE`, `use `kmeshctl ...``, and (pass 31) `did you mean --flag VALUE?` for a name meant
_EXAMPLE = re.compile(r"(?:e\.g\.|use) (`kmeshctl [^`]*`)|e\.g\. (`[^`]*`|.*?)(?=\)|;|: | \(|$)"
                      r"|did you mean (--?[\w-]+ [^\s?]+)\?")


def examples(err: str) -> list[str]:
    """The examples an error line offers (a list `300s, 5m` split into its items)."""
    found: list[str] = []
    for match in _EXAMPLE.finditer(err.strip()):
        text = (match.group(1) or match.group(2) or match.group(3) or "").strip()
        if text.startswith("export "):
            continue  # a shell line, not a flag's value
        found += [text] if text.startswith("`") else [part.strip() for part in text.split(", ") if part.strip()]
    return found


def fed_back(argv: list[str], flag: str, bad: str, example: str) -> list[str]:
    """``argv`` with ``flag bad`` replaced by the example (`VALUE` or `FLAG VALUE`)."""
    at = max(i for i, word in enumerate(argv[:-1]) if word == flag and argv[i + 1] == bad)
    words = shlex.split(example)
    replacement = words if words[0].startswith("-") else [flag, *words]
    return argv[:at] + replacement + argv[at + 2:]


def _about(err: str, flag: str) -> bool:
    """The error is about ``flag`` (as kmeshctl names it first in a bad-value line)."""
    return bool(re.match(rf"Error: (Option '{re.escape(flag)}'|{re.escape(flag)}[ =])", err.strip()))


def _check_example(capsys: Any, argv: list[str], flag: str, bad: str, dead: Path, words: tuple[str, ...],
                   example: str) -> None:
    if example.startswith("`"):
        pasted = shlex.split(example.strip("`"))
        code, _, err = cli(capsys, *pasted[1:])
        assert not (code == 2 and _about(err, flag)), (example, err)
        return
    again = fed_back(argv, flag, bad, example)
    code, _, err = cli(capsys, *again, "--kubeconfig", MISSING)
    if words == ("render",):  # render reads no cluster: a missing kubeconfig is not its error (t42b 12)
        assert code == 0 and not _about(err, flag), (again, err)
    else:
        assert code == 2 and "--kubeconfig" in err.split(":")[0] + err and not _about(err, flag), (again, err)
    if words in CLUSTER or words == ("render",):
        code, out, err = cli(capsys, *again, "--kubeconfig", str(dead))
        assert not (code == 2 and _about(err, flag)), (again, err)
        # precheck reports the refused connection as its first failed check, on stdout
        assert code in (0, 1) and ("cannot reach" in err + out or code == 0), (again, err)


def _name_cases() -> list[tuple[tuple[str, ...], str, str]]:
    cases = []
    for words, command in leaf_commands():
        if tuple(words) in SKIP or command.hidden:
            continue
        for param in command.params:
            if param.param_type_name == "option" and param.name in BAD_NAMES:
                cases.append((tuple(words), max(param.opts, key=len), BAD_NAMES[param.name]))
                if "-n" in param.opts:
                    cases.append((tuple(words), "-n", BAD_NAMES[param.name]))
    return cases


NAME_CASES = _name_cases()


def test_the_walk_finds_the_namespace_flags_of_kmesh_and_of_objects() -> None:
    flags = {(" ".join(w), f) for w, f, _ in NAME_CASES}
    for words in ("precheck", "status", "uninstall", "render", "version", "dump maps", "dump config", "install",
                  "waypoint list", "sandbox exec"):
        assert (words, "-n") in flags, words
    assert ("render", "--cluster-id") in flags and ("dump maps", "--sandbox") in flags


@pytest.mark.parametrize("words,flag,bad", NAME_CASES, ids=lambda x: " ".join(x) if isinstance(x, tuple) else x)
def test_every_name_flag_offers_an_example_it_accepts(words: tuple[str, ...], flag: str, bad: str, tmp_path: Path,
                                                       capsys, no_env, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    dead = _dead_kubeconfig(tmp_path / "dead.yaml")
    base = BASE_ARGS.get(words, [])
    if flag in base:  # the flag under test given once: two values of one flag are refused (pass 23)
        at = base.index(flag)
        base = base[:at] + base[at + 2:]
    needs = NAMESPACE_NEEDS.get(words, []) if flag in ("-n", "--namespace") else []
    argv = [*words, *REQUIRED_ARGS.get(words, []), *needs, *base, flag, bad]
    code, out, err = cli(capsys, *argv, "--kubeconfig", MISSING)
    assert code == 2 and not out and _about(err, flag), err
    offered = examples(err)
    assert offered, err  # a bad name always comes with an example
    for example in offered:
        _check_example(capsys, argv, flag, bad, dead, words, example)


# Flags checked in the command's body: (argv, the flag, the bad value).
BODY_CASES = [
    (["render", "--cluster-id", "c1", "--xds-address", "istiod"], "--xds-address", "istiod"),
    (["render", "--cluster-id", "c1", "--xds-address", "fd00::1:15012"], "--xds-address", "fd00::1:15012"),
    (["render", "--cluster-id", "c1", "--xds-address", "unix:/x"], "--xds-address", "unix:/x"),
    (["render", *XDS, "--cluster-id", "c1", "--image", "Not An Image"], "--image", "Not An Image"),
    (["install", *XDS, "--cluster-id", "c1", "--image", "Not An Image"], "--image", "Not An Image"),
    (["render", "--cluster-id", "c1", *XDS, "--network", "bad net"], "--network", "bad net"),
    (["install", *XDS, "--cluster-id", "c1", "--timeout", "abc"], "--timeout", "abc"),
    (["uninstall", "--timeout", "5x"], "--timeout", "5x"),
    (["enable-ns", "default", "--timeout", "abc"], "--timeout", "abc"),
    (["waypoint", "apply", "--timeout", "abc"], "--timeout", "abc"),
    (["waypoint", "apply", "--name", "Bad_Name"], "--name", "Bad_Name"),
    (["waypoint", "delete", "--name", "Bad_Name"], "--name", "Bad_Name"),
    (["status", "--request-timeout", "abc"], "--request-timeout", "abc"),
    (["sandbox", "status", "--name", "Bad!"], "--name", "Bad!"),
    (["demo", "traffic-shift", "--target", "cluster", "--weights", "90,10,x"], "--weights", "90,10,x"),
    (["demo", "traffic-shift", "--target", "cluster", "--weights", "90/20"], "--weights", "90/20"),
    (["demo", "traffic-shift", "--target", "cluster", "--plot", "x.txt"], "--plot", "x.txt"),
]


@pytest.mark.parametrize("argv,flag,bad", BODY_CASES, ids=lambda x: " ".join(x) if isinstance(x, list) else x)
def test_every_checked_flag_offers_an_example_it_accepts(argv: list[str], flag: str, bad: str, tmp_path: Path,
                                                         capsys, no_env, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    dead = _dead_kubeconfig(tmp_path / "dead.yaml")
    words = tuple(w for w in argv[:2] if not w.startswith("-") and w != "default")  # the command's words
    code, out, err = cli(capsys, *argv, "--kubeconfig", str(dead))
    assert code == 2 and not out, err
    offered = examples(err)
    assert offered, err
    for example in offered:
        if words[0] in ("sandbox", "demo"):  # local: only up to the first use (a missing kubeconfig)
            again = fed_back(argv, flag, bad, example)
            code, _, err = cli(capsys, *again, "--kubeconfig", str(dead))
            assert not (code == 2 and _about(err, flag)), (again, err)
            continue
        _check_example(capsys, argv, flag, bad, dead, words if words in CLUSTER else (words[0],), example)


def test_precheck_offers_kmesh_system_not_default(capsys, no_env) -> None:
    code, _, err = cli(capsys, "precheck", "-n", "bad_")
    assert code == 2 and "e.g. kmesh-system" in err and "e.g. default" not in err, err
    code, _, err = cli(capsys, "precheck", "-n", "default")
    assert code == 2 and "use a dedicated one (default kmesh-system)" in err, err
