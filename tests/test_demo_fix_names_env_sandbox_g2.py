"""Fixer G2, finding 2 of tester 124: the demo's fix (text and -o json `fix`) left out the
sandbox when it came from $KMESHCTL_SANDBOX_NAME: `KMESHCTL_SANDBOX_NAME=a kmeshctl demo
traffic-shift -c 3 -q` with a and e up said `kmeshctl demo traffic-shift -q -c 12`, which,
pasted without the variable, refuses as ambiguous (several sandboxes). A suggestion names
the sandbox whenever the command alone would act on another one (docs/usage.md).

No root, no processes: the records are the sandboxes (test_demo_local_namespace's stand-ins)."""

from __future__ import annotations

import json

import pytest

from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.manifests import default_files, load
import local_demo_doubles
from local_demo_doubles import stand_ins  # noqa: F401 - the fixture
from test_cli_kinds import cli, no_env, state_root  # noqa: F401


def _sandbox(name: str) -> state_mod.SandboxState:
    """A ready sandbox with the demo's objects in default (its VirtualService 80/20)."""
    docs = load(default_files()).documents
    vs = next(d for d in docs if d["kind"] == "VirtualService")
    for route, weight in zip(vs["spec"]["http"][0]["route"], (80, 20)):
        route["weight"] = weight
    pods = [state_mod.PodRecord(pod, "default", pod.split("-")[0], {}, f"10.244.0.{i + 2}", f"ns-g2-{name}-{pod}",
                                "/nonexistent-cgroup", waypoint=pod == "waypoint")
            for i, pod in enumerate(("waypoint", "fortio-v1-0", "fortio-v2-0", "netutils-0"))]
    return local_demo_doubles.save_ready(name, docs, pods, {"default/fortio": "10.96.0.10"})



def _too_few(capsys, *flags: str) -> tuple[str, dict]:
    """The FAIL line of a run of -c 3 and the -o json document of the same run."""
    code, out, err = cli(capsys, "demo", "traffic-shift", "-c", "3", "-q", *flags)
    assert code == 1, err
    line = out.strip().splitlines()[-1]
    code, out, err = cli(capsys, "demo", "traffic-shift", "-c", "3", "-q", "-o", "json", *flags)
    assert code == 1, err
    return line, json.loads(out)


def test_a_sandbox_from_the_variable_is_named_in_the_fix(state_root, capsys, no_env, stand_ins,
                                                         monkeypatch) -> None:
    _sandbox("g2fa")
    _sandbox("g2fe")
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "g2fa")
    line, data = _too_few(capsys)
    assert line.endswith("`kmeshctl demo traffic-shift --sandbox g2fa -q -c 24`"), line
    assert data["fix"] == "kmeshctl demo traffic-shift --sandbox g2fa -o json -q -c 24", data["fix"]
    assert data["reason"].endswith(f"`{data['fix']}`"), data["reason"]


def test_the_variable_names_it_even_when_it_is_the_only_one_up(state_root, capsys, no_env, stand_ins,
                                                               monkeypatch) -> None:
    _sandbox("g2fb")
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "g2fb")
    _, data = _too_few(capsys)
    assert data["fix"] == "kmeshctl demo traffic-shift --sandbox g2fb -o json -q -c 24", data["fix"]


def test_the_only_sandbox_picked_by_itself_needs_no_name(state_root, capsys, no_env, stand_ins) -> None:
    _sandbox("g2fc")
    line, data = _too_few(capsys)
    assert line.endswith("`kmeshctl demo traffic-shift -q -c 24`"), line
    assert data["fix"] == "kmeshctl demo traffic-shift -o json -q -c 24", data["fix"]


def test_a_typed_sandbox_stays_as_typed(state_root, capsys, no_env, stand_ins, monkeypatch) -> None:
    _sandbox("g2fd")
    _sandbox("g2ff")
    monkeypatch.setenv("KMESHCTL_SANDBOX_NAME", "g2ff")
    _, data = _too_few(capsys, "--name", "g2fd")
    assert data["fix"] == "kmeshctl demo traffic-shift --name g2fd -o json -q -c 24", data["fix"]
