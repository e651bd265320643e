"""Helper h87: the demo measures against the sandbox's own VirtualService, one test per
kind: 1 the subject (subsets, weights) read from the sandbox, not from examples/fortio;
2 N subsets end to end (weights, table, JSON, chi-square); 3 the restore puts back the
sandbox's own weights; 4 phase 1's weights are always pushed, and weights a killed demo
left are put back (and `sandbox status` says so); 5 the small wording fixes (-q --plot,
the lock's flag, a route without weights).

Sandbox records live in a temporary state root (test_cli_kinds' `state_root`); nothing is
started: the target's pushes to the waypoint are recorded, not made."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from kmeshctl import demo
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.sandbox import demo_target
from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.manifests import default_files, from_documents, load
from kmeshctl.splitstats import min_requests
from test_cli_kinds import cli, no_env, state_root  # noqa: F401
from test_cli_local_tools import _fortio_record


def _documents() -> list[dict]:
    return [d for path in default_files() for d in yaml.safe_load_all(path.read_text()) if d]


def _edited(weights: list[int], subsets: tuple[str, ...] = ("v1", "v2")) -> list[dict]:
    """examples/fortio with the VirtualService's route at ``weights`` over ``subsets``
    (a third subset adds a fortio-v3 Deployment answering `Server: 3`)."""
    docs = _documents()
    by_kind = {d["kind"]: d for d in docs}
    fortio_v2 = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "fortio-v2")
    if len(subsets) == 3:
        v3 = copy.deepcopy(fortio_v2)
        v3["metadata"]["name"] = "fortio-v3"
        for labels in (v3["metadata"]["labels"], v3["spec"]["selector"]["matchLabels"],
                       v3["spec"]["template"]["metadata"]["labels"]):
            labels["version"] = "v3"
        v3["spec"]["template"]["spec"]["containers"][0]["args"][-1] = "header=server:3"
        docs.append(v3)
    by_kind["DestinationRule"]["spec"]["subsets"] = [
        {"name": name, "labels": {"version": f"v{i}"}} for i, name in enumerate(subsets, start=1)]
    by_kind["VirtualService"]["spec"]["http"][0]["route"] = [
        {"destination": {"host": "fortio", "subset": name}, "weight": weight}
        for name, weight in zip(subsets, weights)]
    return docs


def _sandbox(name: str, weights: list[int], subsets: tuple[str, ...] = ("v1", "v2")) -> state_mod.SandboxState:
    state = _fortio_record(name)
    state.manifests_file.write_text(yaml.safe_dump_all(_edited(weights, subsets), sort_keys=False))
    return state


def _route(name: str) -> list[int]:
    state = state_mod.SandboxState.load(name)
    vs = load([state.manifests_file]).virtual_services[0]
    return [d.weight for d in vs.http[0].destinations]


@pytest.fixture
def pushes(monkeypatch) -> list[list[int]]:
    """Every push to the waypoint (sb.set_route_weights), made to the sandbox's record only."""
    made: list[list[int]] = []

    def push(name: str, namespace: str, vs_name: str, weights: list[int], timeout: float = 10.0,
             route: int = 0) -> None:
        state = state_mod.SandboxState.load(name)
        docs = list(yaml.safe_load_all(state.manifests_file.read_text()))
        vs = next(d for d in docs if d and d["kind"] == "VirtualService" and d["metadata"]["name"] == vs_name)
        for destination, weight in zip(vs["spec"]["http"][route]["route"], weights):
            destination["weight"] = weight
        state.manifests_file.write_text(yaml.safe_dump_all(docs, sort_keys=False))
        made.append(list(weights))

    monkeypatch.setattr(demo_target.sb, "set_route_weights", push)
    monkeypatch.setattr(demo_target.sb, "require_root", lambda: None)
    monkeypatch.setattr(demo_target, "check_demo_ready", lambda *a, **k: None)
    return made


def _target(name: str) -> tuple[demo_target.LocalTarget, demo.DemoSubject]:
    _, default = demo.fortio_demo()
    target = demo_target.LocalTarget(name, ("default", "fortio"), list(default.default_weights))
    return target, demo.subject_of(target, default)


# ------------------------------------------------------------------ 1. the sandbox's own VirtualService


def test_the_subject_is_the_sandboxs_virtual_service_not_the_examples(state_root, no_env) -> None:
    _sandbox("h87a", [80, 20])
    _, subject = _target("h87a")
    assert subject.default_weights == (80, 20)
    assert subject.versions == (demo.Version("v1", "1"), demo.Version("v2", "2"))
    assert demo.parse_weight_sets(None, subject) == [[80, 20]]


def test_subsets_named_blue_and_green_are_named_so(state_root, no_env) -> None:
    _sandbox("h87b", [100, 0], ("blue", "green"))
    _, subject = _target("h87b")
    assert [v.subset for v in subject.versions] == ["blue", "green"] and subject.default_weights == (100, 0)
    phase = demo._phase_report(subject, [100, 0], demo.TrafficCount(40, 0, {"1": 40}), None)
    report = demo.DemoReport("local", 40, [phase], subject, "h87b")
    data = report.to_json()
    assert data["subsets"] == [{"subset": "blue", "server": "1"}, {"subset": "green", "server": "2"}]
    assert data["phases"][0]["weights"] == {"blue": 100, "green": 0} and report.passed


def test_a_sandbox_not_up_yet_or_without_fortio_keeps_the_demos_manifests(state_root, no_env) -> None:
    _, default = demo.fortio_demo()
    target, subject = _target("h87none")
    assert subject == default
    from test_cli_newuser import _record

    _record("h87c", (("netutils-0", False),))  # no fortio: prepare names what it lacks
    _, subject = _target("h87c")
    assert subject == default


# ------------------------------------------------------------------ 2. N subsets end to end


def test_three_subsets_take_three_weights_per_set_and_a_chi_square_test(state_root, no_env) -> None:
    _sandbox("h87d", [70, 20, 10], ("v1", "v2", "v3"))
    _, subject = _target("h87d")
    assert [v.server for v in subject.versions] == ["1", "2", "3"] and subject.default_weights == (70, 20, 10)
    assert demo.parse_weight_sets("50/25/25,0/0/100", subject) == [[50, 25, 25], [0, 0, 100]]
    with pytest.raises(UsageError, match=r"2 weights for 3 versions \(v1/v2/v3\); use 3 weights"):
        demo.parse_weight_sets("50/50", subject)
    counts = {"1": 140, "2": 40, "3": 20}
    phase = demo._phase_report(subject, [70, 20, 10], demo.TrafficCount(200, 0, counts), None)
    assert phase.test == "chi-square" and phase.consistent and phase.judged
    assert phase.to_json(1, subject)["counts"] == {"v1": 140, "v2": 40, "v3": 20}


def test_the_early_weights_check_leaves_the_count_to_the_sandbox() -> None:
    _, default = demo.fortio_demo()
    assert demo.parse_weight_sets("50/25/25", default, check_count=False) == [[50, 25, 25]]
    for bad in ("90/20", "a/b", "110/-10", ""):
        with pytest.raises(UsageError):
            demo.parse_weight_sets(bad, default, check_count=False)


def test_a_single_destination_is_judged_from_the_first_request() -> None:
    assert min_requests({"1": 100}, demo.P_VALUE_FLOOR) == 1


# ------------------------------------------------------------------ 3. the restore


def test_the_restore_puts_back_the_sandboxs_own_weights(state_root, no_env, pushes) -> None:
    _sandbox("h87e", [80, 20])
    target, _ = _target("h87e")
    target.prepare(lambda line: None)
    target.ensure_weights([50, 50])
    target.set_weights([0, 100])
    assert _route("h87e") == [0, 100]
    target.finish(lambda line: None)
    assert _route("h87e") == [80, 20] and pushes[-1] == [80, 20]
    assert not demo_target.weights_record(state_mod.SandboxState.load("h87e")).exists()
    _, again = _target("h87e")
    assert again.default_weights == (80, 20)


def test_a_run_on_the_vs_own_weights_leaves_nothing_to_restore(state_root, no_env, pushes) -> None:
    _sandbox("h87f", [80, 20])
    target, _ = _target("h87f")
    target.prepare(lambda line: None)
    target.ensure_weights([80, 20])
    lines: list[str] = []
    target.finish(lines.append)
    assert pushes == [[80, 20]] and not lines and _route("h87f") == [80, 20]


# ------------------------------------------------------------------ 4. phase 1 pushed; a killed demo's weights


class FakeTarget:
    """A target answering per the weights last pushed (exactly, request i to the version
    whose cumulative weight bracket holds i % 100)."""

    name = "local"
    description = "fake"
    sandbox_name = "h87fake"

    def __init__(self, subject: demo.DemoSubject, in_force: list[int]) -> None:
        self.subject_ = subject
        self.in_force = in_force
        self.calls: list[tuple[str, list[int]]] = []
        self.stopped: set[str] = set()

    def subject(self, default: demo.DemoSubject) -> demo.DemoSubject:
        return self.subject_

    def prepare(self, progress) -> None:  # type: ignore[no-untyped-def]
        pass

    def service_url(self) -> str:
        return "http://fake/"

    def _server(self, index: int) -> str:
        bracket = 0
        for version, weight in zip(self.subject_.versions, self.in_force):
            bracket += weight
            if index % 100 < bracket:
                return version.server
        return "?"

    def run_loop(self, argv: list[str]) -> Iterator[str]:
        count, stop = int(argv[5]), argv[6]
        index = 0
        while (index < count) if count else (stop not in self.stopped):
            index += 1
            yield f"{index} 0 200 {self._server(index)}"
            if not count:
                time.sleep(0.005)

    def touch(self, path: str) -> None:
        self.stopped.add(path)

    def set_weights(self, weights: list[int]) -> None:
        self.calls.append(("set", list(weights)))
        self.in_force = list(weights)

    def ensure_weights(self, weights: list[int]) -> None:
        self.calls.append(("ensure", list(weights)))
        self.in_force = list(weights)

    def finish(self, progress) -> None:  # type: ignore[no-untyped-def]
        pass


def _run(target: FakeTarget, weight_sets: list[list[int]], requests: int = 100) -> demo.DemoReport:
    return demo.run_traffic_shift(target, target.subject_, requests, weight_sets, lambda *a: None, lambda *a: None)


def test_phase_one_is_always_pushed_even_on_the_vs_own_weights(monkeypatch) -> None:
    monkeypatch.setattr(demo, "CHANGE_LEAD_S", 0.01)
    _, subject = demo.fortio_demo()
    stale = FakeTarget(subject, [0, 100])  # what a demo killed in its 0/100 phase left in force
    report = _run(stale, [[90, 10]])
    assert stale.calls == [("ensure", [90, 10])] and report.passed and report.phases[0].change is None
    changed = FakeTarget(subject, [90, 10])
    report = _run(changed, [[50, 50], [50, 50], [0, 100]])
    assert changed.calls == [("set", [50, 50]), ("set", [0, 100])] and report.passed
    assert report.phases[0].change is not None and report.phases[1].change is None


def _killed_demo_left(name: str, original: list[int], in_force: list[int]) -> state_mod.SandboxState:
    """What a demo killed by SIGKILL mid-run leaves: its record of the VirtualService's own
    weights, the route at the weights of its last phase, the lock of a dead pid."""
    state = _sandbox(name, in_force)
    dead = subprocess.Popen(["true"])
    dead.wait()
    demo_target.weights_record(state).write_text(json.dumps(
        {"virtualService": "default/fortio", "weights": original, "pid": dead.pid}))
    lock_mod.lock_path(name).parent.mkdir(parents=True, exist_ok=True)
    lock_mod.lock_path(name).write_text(json.dumps({"pid": dead.pid, "started": "1", "command": "demo"}))
    return state


def test_weights_a_killed_demo_left_are_the_ones_put_back(state_root, no_env, pushes) -> None:
    _killed_demo_left("h87g", [80, 20], [0, 100])
    target, subject = _target("h87g")
    assert subject.default_weights == (80, 20)  # the VirtualService's own, not the killed demo's 0/100
    lines: list[str] = []
    target.prepare(lines.append)
    assert any("0/100" in line and "80/20" in line for line in lines), lines
    target.ensure_weights([80, 20])
    target.finish(lines.append)
    assert _route("h87g") == [80, 20] and pushes[-1] == [80, 20]
    assert not demo_target.weights_record(state_mod.SandboxState.load("h87g")).exists()


def test_sandbox_status_says_the_weights_a_killed_demo_left(state_root, no_env) -> None:
    state = _killed_demo_left("h87h", [80, 20], [0, 100])
    note = demo_target.weights_note(state)
    assert "v1=0, v2=100" in note and "v1=80, v2=20" in note, note
    assert "`kmeshctl demo traffic-shift --sandbox h87h -c 24`" in note, note  # the -c its 80/20 route needs
    assert demo_target.weights_note(_sandbox("h87i", [80, 20])) == ""


# ------------------------------------------------------------------ 5. wording


def test_a_route_of_several_destinations_without_weights_says_so() -> None:
    docs = _documents()
    vs = next(d for d in docs if d["kind"] == "VirtualService")
    for route in vs["spec"]["http"][0]["route"]:
        del route["weight"]
    with pytest.raises(UsageError) as caught:
        from_documents(docs)
    assert "route to fortio has 2 destinations without weights; give weights that add up to 100" in str(caught.value)
    assert "200" not in str(caught.value)
    del vs["spec"]["http"][0]["route"][1]
    assert from_documents(docs).virtual_services[0].http[0].destinations[0].weight == 100  # one gets it all


def test_a_locked_sandbox_names_the_demos_own_flag(state_root, no_env, pushes) -> None:
    _sandbox("h87j", [80, 20])
    holder = subprocess.Popen(["sleep", "30"])
    try:
        lock_mod.lock_path("h87j").parent.mkdir(parents=True, exist_ok=True)
        lock_mod.lock_path("h87j").write_text(json.dumps(
            {"pid": holder.pid, "started": state_mod.process_start_time(holder.pid), "command": "demo"}))
        target, _ = _target("h87j")
        _sandbox("h87k", [80, 20])  # another the demo can use (with none: the demo in a new one, t41a 6)
        with pytest.raises(KmeshctlError, match=f"in use by demo pid {holder.pid}; wait for it or pass --sandbox "
                                                "of another sandbox"):
            target.prepare(lambda line: None)
        typed = demo_target.LocalTarget("h87j", ("default", "fortio"), [90, 10], sandbox_flag="--name")
        with pytest.raises(KmeshctlError, match="pass --name of another sandbox"):
            typed.prepare(lambda line: None)
    finally:
        holder.kill()
        holder.wait()


@pytest.fixture
def fake_run(monkeypatch) -> FakeTarget:
    """The CLI's demo on a FakeTarget over a sandbox with blue/green/v3 subsets."""
    monkeypatch.setattr(demo, "CHANGE_LEAD_S", 0.01)
    manifests = from_documents(_edited([70, 20, 10], ("blue", "green", "v3")))
    target = FakeTarget(demo.demo_subject(manifests), [70, 20, 10])
    monkeypatch.setattr(demo, "choose_target", lambda *a, **k: (target, "Target: local sandbox h87fake"))
    return target


def test_quiet_silences_the_plot_line(fake_run, capsys, tmp_path: Path, no_env, monkeypatch) -> None:
    import kmeshctl.demo_plot

    monkeypatch.setattr(kmeshctl.demo_plot, "plot_shares", lambda data, path: Path(path).write_text("png"))
    plot = tmp_path / "f.png"
    for args in (["demo", "traffic-shift", "-q"], ["-q", "demo", "traffic-shift"]):
        code, out, err = cli(capsys, *args, "-c", "100", "--plot", str(plot), "--force")  # h112: replaces it
        assert code == 0 and "Plot:" not in err and not err.strip(), err
    code, out, err = cli(capsys, "demo", "traffic-shift", "-c", "100", "--plot", str(plot), "--force")
    assert code == 0 and f"Plot: {plot}" in err


def test_the_table_and_json_name_the_sandboxs_subsets(fake_run, capsys, no_env) -> None:
    code, out, err = cli(capsys, "demo", "traffic-shift", "-c", "100", "-q", "-o", "json")
    data = json.loads(out)
    assert code == 0, err
    assert [s["subset"] for s in data["subsets"]] == ["blue", "green", "v3"]
    assert data["phases"][0]["weights"] == {"blue": 70, "green": 20, "v3": 10}
    assert data["phases"][0]["test"] == "chi-square"
    code, out, err = cli(capsys, "demo", "traffic-shift", "-c", "200", "-q", "--weights", "50/25/25,0/0/100")
    assert code == 0, out + err
    for row in ("blue", "green", "v3"):
        assert row in out
    assert "?" not in out and "PASS" in out, out
    code, out, err = cli(capsys, "demo", "traffic-shift", "-c", "100", "-q", "--weights", "50/50")
    assert code == 2 and "2 weights for 3 versions (blue/green/v3); use 3 weights" in err, err
