"""Helper h97, review of the sandbox's record and the local demo target, one test per kind:
1 a process is told alive by pid and start time in one place (an unknown start time is
not alive); 2 unix socket paths too long for the kernel are refused before `up` makes
anything; 3 concurrent saves of a record, and `down` removing what a stopped `up` recorded
meanwhile; 4 the weights a stopped demo left, checked once; 6 the small fixes (the name
check's flag, the request loop's process group). Nothing here needs root."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from kmeshctl import sandboxes
from kmeshctl.errors import EXIT_USAGE, UsageError
from kmeshctl.sandbox import demo_target
from kmeshctl.sandbox import lock as lock_mod
from kmeshctl.sandbox import sandbox as sb
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.manifests import default_files, from_documents
from test_cli_kinds import no_env, state_root  # noqa: F401
from test_demo_sandbox_own_weights import _route, _sandbox, _target, pushes  # noqa: F401


def _dead_pid() -> int:
    dead = subprocess.Popen(["true"])
    dead.wait()
    return dead.pid


# ------------------------------------------------------------------ 1. one liveness rule


def test_an_unknown_start_time_is_never_a_live_process() -> None:
    pid = _dead_pid()
    salvaged = state_mod.salvage("h97a", {"up_pid": pid, "up_started": 5, "phase": "creating"})
    assert salvaged.up_started == "" and not salvaged.up_is_running()
    assert not lock_mod.Holder(pid, "", "demo").alive()
    me = os.getpid()
    assert not state_mod.same_process(me, "")  # even a live pid: a reused one cannot be told apart
    assert state_mod.same_process(me, state_mod.process_start_time(me))
    assert lock_mod.Holder(me, state_mod.process_start_time(me), "demo").alive()
    assert not state_mod.same_process(0, "1") and not state_mod.same_process(pid, "1")


def test_unfinished_does_not_wait_for_an_up_that_is_gone(state_root, no_env) -> None:
    state = state_mod.SandboxState(name="h97b", up_pid=_dead_pid(), up_started="")
    assert "half-created" in sb.unfinished(state)
    started = time.monotonic()
    assert sb._stop_up_process(state, grace=5.0) is False
    assert time.monotonic() - started < 1.0


# ------------------------------------------------------------------ 2. socket paths


def _with_waypoint(namespace: str, waypoint: str) -> list[dict]:
    docs = [d for path in default_files() for d in yaml.safe_load_all(path.read_text()) if d]
    for doc in docs:
        if doc["kind"] == "Service" and doc["metadata"]["name"] == "fortio":
            doc["metadata"]["labels"]["istio.io/use-waypoint"] = waypoint
            doc["metadata"]["labels"]["istio.io/use-waypoint-namespace"] = namespace
    if namespace != "default":
        docs.append({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
    return docs


def test_a_socket_path_over_the_kernels_limit_is_refused_naming_it() -> None:
    long_name = "waypoint-" + "x" * 54  # 63: a valid label value and Service name
    with pytest.raises(UsageError) as refused:
        sb.check_socket_paths("kmesh", from_documents(_with_waypoint("default", long_name)))
    message = str(refused.value)
    assert refused.value.exit_code == EXIT_USAGE == 2 and "\n" not in message
    assert f"/run/kmeshctl/sandbox-kmesh/xds-default-{long_name}.sock" in message, message
    assert "shorter sandbox name" in message and "waypoint name or namespace" in message, message
    long_namespace = "n" * 63
    with pytest.raises(UsageError, match=f"xds-{long_namespace}-waypoint.sock"):
        sb.check_socket_paths("kmesh", from_documents(_with_waypoint(long_namespace, "waypoint")))


def test_the_longest_sandbox_name_fits_with_the_examples_and_every_path_is_checked() -> None:
    longest = "a" * state_mod.NAME_MAX
    sb.check_socket_paths(longest, from_documents(_with_waypoint("default", "waypoint")))
    state = state_mod.SandboxState(name=longest)
    room = state_mod.SUN_PATH_MAX - len(str(state.envoy_admin_socket(
        sb.WaypointInfo("waypoint", "default", "waypoint", ""))))
    fits = "w" * (len("waypoint") + room)  # exactly 107 bytes: allowed
    sb.check_socket_paths(longest, from_documents(_with_waypoint("default", fits)))
    with pytest.raises(UsageError, match="envoy-admin|xds-"):
        sb.check_socket_paths(longest, from_documents(_with_waypoint("default", fits + "w")))


def test_check_up_refuses_a_long_socket_path_before_anything_is_made(tmp_path: Path, state_root,
                                                                      monkeypatch) -> None:
    for check in ("require_root", "envoy_binary"):  # the checks needing root or Envoy pass
        monkeypatch.setattr(sb, check, lambda: None)
    monkeypatch.setattr(sb.pods_mod, "check_cni_plugins", lambda: None)
    monkeypatch.setattr(sb.agent_mod, "preflight", lambda: None)
    root = Path("/tmp/h97-none")  # short, as /run/kmeshctl is: tmp_path's would not fit the sockets
    monkeypatch.setattr(state_mod, "STATE_ROOT", root)
    manifests = tmp_path / "long.yaml"
    manifests.write_text(yaml.safe_dump_all(_with_waypoint("default", "w" * 63)))
    with pytest.raises(UsageError, match="unix socket .* bytes long"):
        sb.check_up("h97c", [manifests])
    assert not root.exists() and not state_root.exists()  # nothing made
    manifests.write_text(yaml.safe_dump_all(_with_waypoint("default", "waypoint")))
    assert sb.check_up("h97c", [manifests]).name == "h97c"


# ------------------------------------------------------------------ 3. the record saved


def test_concurrent_saves_of_one_record_never_fail_and_leave_no_temporary(state_root) -> None:
    errors: list[str] = []

    def saver(phase: str) -> None:
        state = state_mod.SandboxState(name="h97d", phase=phase)
        for _ in range(400):
            try:
                state.save()
            except Exception as err:  # noqa: BLE001 - counted
                errors.append(repr(err))

    threads = [threading.Thread(target=saver, args=(p,)) for p in ("creating", "removing", "ready")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    directory = state_mod.state_dir("h97d")
    assert [p.name for p in directory.iterdir()] == ["state.json"]
    assert state_mod.SandboxState.read("h97d") is not None
    assert (directory / "state.json").stat().st_mode & 0o777 == 0o644


def test_down_works_from_what_a_stopped_up_recorded_meanwhile(state_root, monkeypatch) -> None:
    loaded = state_mod.SandboxState(name="h97e", up_pid=12345, up_started="1")
    loaded.save()

    def up_recorded_more(state: state_mod.SandboxState, grace: float = 0.0) -> bool:
        newer = state_mod.SandboxState.load(state.name)
        newer.pods.append(state_mod.PodRecord("fortio-v1-0", "default", "fortio-v1", {}, "10.244.0.5",
                                              "ksbh97e-fortio-v1-0", "/sys/fs/cgroup/x"))
        newer.save()
        return True

    seen: list[state_mod.SandboxState] = []

    class Stop(Exception):
        pass

    def mark(state: state_mod.SandboxState) -> None:
        seen.append(state)
        raise Stop

    monkeypatch.setattr(sb, "_stop_up_process", up_recorded_more)
    monkeypatch.setattr(sb, "_mark_removing", mark)
    with pytest.raises(Stop):
        sb.teardown(loaded, lambda line: None)
    assert [p.name for p in seen[0].pods] == ["fortio-v1-0"]


# ------------------------------------------------------------------ 4. the weights a stopped demo left


def _left(name: str, record: object, in_force: list[int]) -> state_mod.SandboxState:
    state = _sandbox(name, in_force)
    demo_target.weights_record(state).write_text(json.dumps(record))
    return state


@pytest.mark.parametrize("record, problem", [
    ({"virtualService": "default/fortio", "weights": "9010"}, "not a list of whole numbers"),
    ({"virtualService": "default/fortio", "weights": [50, 25, 25]}, "do not fit VirtualService default/fortio"),
    ({"virtualService": "default/fortio", "weights": [60, 30]}, "do not fit"),
    ({"virtualService": "default/fortio", "weights": [True, 99]}, "not a list of whole numbers"),
    ({"virtualService": "default/fortio", "weights": [110, -10]}, "not a list of whole numbers"),
    ({"virtualService": "default/nothere", "weights": [50, 50]}, "is not in sandbox"),
    ({"virtualService": "fortio", "weights": [50, 50]}, "names no VirtualService"),
    (["default/fortio", [50, 50]], "names no VirtualService"),
])
def test_a_record_that_does_not_fit_is_noted_removed_and_never_blocks_a_demo(state_root, no_env, pushes,
                                                                             record, problem) -> None:
    state = _left("h97f", record, [0, 100])
    target, subject = _target("h97f")
    assert subject.default_weights == (0, 100)  # the weights in force: the record is not used
    left = demo_target.left_weights(state, demo_target._in_force(state))
    assert left is not None and problem in left.problem, left
    assert demo_target.weights_note(state) == ""
    lines: list[str] = []
    target.prepare(lines.append)
    assert len(lines) == 1 and "cannot be put back" in lines[0] and problem in lines[0], lines
    assert not demo_target.weights_record(state).exists() and pushes == []
    target.ensure_weights([0, 100])
    target.finish(lines.append)
    again, _ = _target("h97f")
    again.prepare(lines.append)  # the next demo runs as on any sandbox
    again.finish(lines.append)


def test_an_unreadable_record_is_noted_and_removed(state_root, no_env, pushes) -> None:
    state = _sandbox("h97g", [80, 20])
    demo_target.weights_record(state).write_text("{not json")
    target, _ = _target("h97g")
    lines: list[str] = []
    target.prepare(lines.append)
    assert "cannot be read" in lines[0] and not demo_target.weights_record(state).exists()


def test_another_virtual_services_weights_are_put_back_not_dropped(state_root, no_env, monkeypatch) -> None:
    state = _sandbox("h97h", [0, 100])
    docs = list(yaml.safe_load_all(state.manifests_file.read_text()))
    others = []
    for kind in ("Service", "DestinationRule", "VirtualService"):  # a second Service `other`, routed alike
        doc = json.loads(json.dumps(next(d for d in docs if d["kind"] == kind and "fortio" in json.dumps(d))))
        doc["metadata"]["name"] = "other"
        others.append(json.loads(json.dumps(doc).replace('"fortio"', '"other"').replace(
            '"app": "other"', '"app": "fortio"')))
    state.manifests_file.write_text(yaml.safe_dump_all(docs + others, sort_keys=False))
    demo_target.weights_record(state).write_text(json.dumps({"virtualService": "default/other",
                                                             "weights": [70, 30]}))
    pushed: list[tuple] = []
    target, subject = _target("h97h")
    assert subject.default_weights == (0, 100)
    monkeypatch.setattr(demo_target.sb, "set_route_weights", lambda *a, **route: pushed.append(a))
    monkeypatch.setattr(demo_target.sb, "require_root", lambda: None)
    monkeypatch.setattr(demo_target, "check_demo_ready", lambda *a, **k: None)
    lines: list[str] = []
    target.prepare(lines.append)
    assert pushed == [("h97h", "default", "other", [70, 30])], pushed
    assert "default/other" in lines[0] and "70/30" in lines[0], lines
    assert not demo_target.weights_record(state).exists()


def test_the_subjects_own_record_is_put_back_as_before(state_root, no_env, pushes) -> None:
    state = _left("h97i", {"virtualService": "default/fortio", "weights": [80, 20]}, [0, 100])
    left = demo_target.left_weights(state, demo_target._in_force(state))
    assert left == demo_target.LeftWeights(("default", "fortio"), [80, 20])
    target, subject = _target("h97i")
    assert subject.default_weights == (80, 20)
    target.prepare(lambda line: None)
    assert _route("h97i") == [80, 20] and pushes == [[80, 20]]
    demo_target._record_weights(state, ("default", "fortio"), [80, 20])
    assert set(json.loads(demo_target.weights_record(state).read_text())) == {"virtualService", "weights"}


# ------------------------------------------------------------------ 6. small fixes


def test_the_name_check_names_the_flag_as_typed() -> None:
    for flag in ("--name", "--sandbox"):
        with pytest.raises(UsageError) as refused:
            sandboxes.checked_name("Bad_Name", flag)
        assert str(refused.value) == (f"{flag} Bad_Name: not a sandbox name; use {state_mod.NAME_RULE} (it has "
                                      f"upper-case letters), e.g. {flag} demo")
    assert not hasattr(state_mod, "default_name") and state_mod.DEFAULT_NAME == "kmesh"


def test_stopping_a_loop_kills_its_group_when_only_a_child_is_left() -> None:
    loop = subprocess.Popen(["sh", "-c", "sleep 60 & echo $!"], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    child = int(loop.stdout.readline())
    loop.wait(5)  # the leader exited, its child sleeps on in the group
    demo_target.stop_loop(loop, kill=True, timeout=2.0)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and Path(f"/proc/{child}").exists() and \
            Path(f"/proc/{child}/stat").read_text().split(") ")[1][0] != "Z":
        time.sleep(0.05)
    state = Path(f"/proc/{child}/stat").read_text().split(") ")[1][0] if Path(f"/proc/{child}").exists() else "gone"
    assert state in ("Z", "gone"), state


def test_a_loop_that_outlives_its_kill_does_not_raise() -> None:
    class Stuck:
        pid = 2 ** 22 + 12345  # no such group: ProcessLookupError, ignored
        stdout = None

        def wait(self, timeout: float) -> int:
            raise subprocess.TimeoutExpired("loop", timeout)

    demo_target.stop_loop(Stuck(), kill=False, timeout=0.01)  # type: ignore[arg-type]


def test_no_pass_through_is_left_and_defaults_live_in_params() -> None:
    from kmeshctl import params

    assert not hasattr(demo_target, "remake_command") and not hasattr(demo_target, "LOOP_EXIT_TIMEOUT_S")
    assert state_mod.POD_SUBNET == params.SANDBOX_POD_SUBNET and \
        state_mod.SERVICE_SUBNET == params.SANDBOX_SERVICE_SUBNET
    source = Path(demo_target.__file__).read_text()
    assert source.count('"default/fortio"') == 1 and '"pid"' not in source


# ------------------------------------------------------------------ 5. the record checked by pydantic


def _pod_raw(name: str, ip: object = "10.244.0.3") -> dict:
    return {"name": name, "namespace": "default", "deployment": "web", "labels": {"app": "web"}, "ip": ip,
            "netns": f"ksbh97j-{name}", "cgroup": "/cg"}


def test_parse_says_where_a_field_is_wrong_in_kmeshctls_words() -> None:
    cases = {"vips": ({"default/web": 5}, "vips.default/web is the number 5, not a string"),
             "pods": ([_pod_raw("a"), _pod_raw("b", ip=None)], "pods[1].ip is null, not a string"),
             "up_pid": (True, "up_pid is true, not an integer"),
             "created_at": ("soon", "created_at is the string 'soon', not a number")}
    for key, (value, said) in cases.items():
        with pytest.raises(state_mod.RecordError) as caught:
            state_mod.parse("h97j", {"name": "h97j", key: value})
        assert caught.value.damaged and str(caught.value) == f"the record: {said}", caught.value
        assert "Input should" not in str(caught.value)


def test_salvage_drops_only_what_an_error_points_at() -> None:
    raw = {"name": "other", "pods": [_pod_raw("a"), _pod_raw("b", ip=7), _pod_raw("c")], "vips": {"x": 1},
           "up_pid": 42, "processes": [{"role": "agent", "pid": 3}, {"role": 7}], "created_at": 2}
    state = state_mod.salvage("h97j", raw)
    assert state.name == "h97j" and [p.name for p in state.pods] == ["a", "c"] and state.vips == {}
    assert state.up_pid == 42 and [p.pid for p in state.processes] == [3] and state.created_at == 2.0
