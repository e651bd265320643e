"""Helper h112, kind "the local demo measures what the sandbox's manifests really route":
a new-user tester's sandboxes made with `sandbox up -f` of their own manifests were
measured wrong.

- H1: fortio's Service on port 9090 was still sent to on port 80 (every request failed,
  curl exit 56, FAIL with no reason): the Service port is used (the route's destination
  port when it names one).
- H2: the VirtualService's first route was measured even when it had a match (uri prefix
  /canary) that the demo's GET / never takes: the route a GET / takes is measured and its
  weights changed and put back; none taking it is refused, naming the matches.
- M3: `needed_requests` assumed an even spread over subsets; routing without the weights
  spreads over pods (fortio-v1 replicas 2, v2 1: 2/3 to v1), so 67/33 said `need at least
  88` although no count tells it from that spread: now the count is the one at which any
  outcome can be rejected (as for 50/50 with one pod each) and the verdict says the
  weights cannot be told from routing without them, suggesting weights that can.
- M4: a DestinationRule subset selecting no pod was said to lack the Server header; a
  subset with replicas 0 was not refused (503s, FAIL with no reason); netutils with
  replicas 0 was said to be missing from the manifests.
- L1: the same-Server-header refusal named no sandbox and came without the `Target:` line.
- L7: the several-sandboxes error began `--target auto:` although no --target was typed.
- `--plot FILE` replaced an existing file silently: refused before any work unless --force.

Sandbox records live in a temporary state root; nothing is started: the netutils pod's
request loop is a local stand-in (every fifth answer from v2), the pushes to the
waypoint are recorded only."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import yaml

from kmeshctl import demo, splitstats
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.sandbox import demo_target
from kmeshctl.sandbox import manifests as m
from kmeshctl.sandbox import state as state_mod
from kmeshctl.sandbox.manifests import default_files, from_documents, load
import local_demo_doubles
from local_demo_doubles import stand_ins  # noqa: F401 - the fixture
from test_cli_kinds import _dead_kubeconfig, cli, no_env, state_root  # noqa: F401

def _docs() -> list[dict]:
    return [json.loads(json.dumps(d)) for d in load(default_files()).documents]


def _doc(docs: list[dict], kind: str, name: str) -> dict:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _vs_http(docs: list[dict]) -> list[dict]:
    return _doc(docs, "VirtualService", "fortio")["spec"]["http"]


def _canary_first(docs: list[dict]) -> list[dict]:
    """/canary -> v2 first, then the catch-all v1=80/v2=20."""
    http = _vs_http(docs)
    catch_all = http[0]
    for route, weight in zip(catch_all["route"], (80, 20)):
        route["weight"] = weight
    canary = {"match": [{"uri": {"prefix": "/canary"}}],
              "route": [{"destination": {"host": "fortio", "subset": "v2"}}]}
    http[:] = [canary, catch_all]
    return docs


def _sandbox(name: str, docs: list[dict]) -> state_mod.SandboxState:
    """A ready sandbox of ``docs`` with one pod record per replica."""
    manifests = from_documents(docs)
    pods = [state_mod.PodRecord("waypoint-0", "default", "waypoint", {}, "10.244.0.2", f"ns-h112-{name}-wp",
                                "/nonexistent-cgroup", waypoint=True)]
    for deployment in manifests.deployments:
        for i in range(deployment.replicas):
            pod = f"{deployment.name}-{i}"
            pods.append(state_mod.PodRecord(pod, deployment.namespace, deployment.name, dict(deployment.pod_labels),
                                            f"10.244.0.{len(pods) + 2}", f"ns-h112-{pod}", "/nonexistent-cgroup"))
    return local_demo_doubles.save_ready(name, docs, pods, {"default/fortio": "10.96.0.10"})



def _target(name: str) -> tuple[demo_target.LocalTarget, demo.DemoSubject]:
    _, default = demo.fortio_demo()
    target = demo_target.LocalTarget(name, ("default", "fortio"), list(default.default_weights))
    return target, demo.subject_of(target, default)


# ------------------------------------------------------------------ H1: the Service's port


def test_a_service_on_port_9090_is_sent_to_on_9090(state_root, no_env, stand_ins, capsys) -> None:
    docs = _docs()
    _doc(docs, "Service", "fortio")["spec"]["ports"][0]["port"] = 9090
    _sandbox("h112a", docs)
    target, subject = _target("h112a")
    target.prepare(lambda line: None)
    assert subject.port == 9090 and target.service_url() == "http://10.96.0.10:9090/"
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h112a", "-c", "20")
    assert code == 0 and "Sending 20 requests per phase to http://10.96.0.10:9090/" in err, err


def test_the_destination_port_the_route_names_is_the_one_used() -> None:
    docs = _docs()
    _doc(docs, "Service", "fortio")["spec"]["ports"] = [
        {"name": "http", "port": 80, "targetPort": 8080}, {"name": "alt", "port": 8000, "targetPort": 8080}]
    for route in _vs_http(docs)[0]["route"]:
        route["destination"]["port"] = {"number": 8000}
    assert demo.demo_subject(from_documents(docs)).port == 8000
    for route in _vs_http(docs)[0]["route"]:
        del route["destination"]["port"]
    assert demo.demo_subject(from_documents(docs)).port == 80  # several ports, none named: 80


# ------------------------------------------------------------------ H2: the route a GET / takes


def test_the_catch_all_route_is_measured_and_its_weights_changed_and_put_back(state_root, no_env,
                                                                              stand_ins) -> None:
    _sandbox("h112b", _canary_first(_docs()))
    target, subject = _target("h112b")
    assert subject.route == 1 and subject.default_weights == (80, 20)
    assert [v.subset for v in subject.versions] == ["v1", "v2"]
    target.prepare(lambda line: None)
    target.set_weights([50, 50])
    target.finish(lambda line: None)
    assert stand_ins["pushes"] == [("default", "fortio", 1, [50, 50]), ("default", "fortio", 1, [80, 20])]


def test_weights_of_the_route_taken_are_checked_against_its_subsets(state_root, no_env, stand_ins, capsys) -> None:
    _sandbox("h112c", _canary_first(_docs()))
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h112c", "--weights", "100")
    assert code == 2 and "1 weight for 2 versions (v1/v2)" in err, err


def test_a_virtual_service_no_route_of_which_takes_slash_is_refused() -> None:
    docs = _canary_first(_docs())
    _vs_http(docs)[1]["match"] = [{"uri": {"exact": "/v1"}}]
    with pytest.raises(UsageError) as refused:
        demo.demo_subject(from_documents(docs), where="sandbox h112d")
    assert str(refused.value) == (
        "no http route of VirtualService default/fortio in sandbox h112d takes a request to / (route 1 matches "
        "uri prefix /canary; route 2 matches uri exact /v1), which is what the demo sends; add a route without "
        "`match` (or with `uri: {prefix: /}`) last")


def test_a_route_matching_prefix_slash_or_exact_slash_takes_it() -> None:
    docs = _canary_first(_docs())
    _vs_http(docs)[1]["match"] = [{"uri": {"exact": "/v1"}}, {"uri": {"exact": "/"}}]
    assert demo.demo_subject(from_documents(docs)).route == 1
    _vs_http(docs)[0]["match"] = [{"uri": {"prefix": "/"}}]
    assert demo.demo_subject(from_documents(docs)).route == 0


def test_the_sandbox_changes_the_weights_of_the_route_named() -> None:
    vs = from_documents(_canary_first(_docs())).virtual_services[0]
    changed = m.with_weights(vs, [30, 70], route=1)
    assert [d.weight for d in changed.http[1].destinations] == [30, 70]
    assert changed.http[0] == vs.http[0]
    with pytest.raises(UsageError):
        m.with_weights(vs, [30, 70], route=0)  # one destination there


# ------------------------------------------------------------------ M3: pods, not subsets


def test_67_33_over_two_and_one_pods_cannot_be_told_from_no_weights() -> None:
    weights, pods = {"1": 67, "2": 33}, {"1": 2, "2": 1}
    assert splitstats.like_unweighted(weights, pods, demo.P_VALUE_FLOOR)
    needed = splitstats.min_requests(weights, demo.P_VALUE_FLOOR, pods)
    assert needed < 20  # not 88: the count at which any outcome can be rejected
    assert not splitstats.like_unweighted({"1": 90, "2": 10}, pods, demo.P_VALUE_FLOOR)
    assert splitstats.like_unweighted({"1": 50, "2": 50}, None, demo.P_VALUE_FLOOR)
    # 90/10 over 2:1 pods: the spread to reject is 2/3 v1, not 1/2
    with_pods = splitstats.min_requests({"1": 90, "2": 10}, demo.P_VALUE_FLOOR, pods)
    assert with_pods != splitstats.min_requests({"1": 90, "2": 10}, demo.P_VALUE_FLOOR)
    assert splitstats.split_test(splitstats.unweighted_counts(with_pods, weights | {"1": 90, "2": 10}, pods),
                                 {"1": 90, "2": 10}).p_value < demo.P_VALUE_FLOOR
    assert splitstats.unweighted_counts(9, {"1": 90, "2": 10}, pods) == {"1": 6, "2": 3}


def test_the_demo_says_the_weights_equal_the_spread_over_pods(state_root, no_env, stand_ins, capsys) -> None:
    docs = _docs()
    _doc(docs, "Deployment", "fortio-v1")["spec"]["replicas"] = 2
    _sandbox("h112e", docs)
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h112e", "--weights", "67/33", "-c", "3")
    text = " ".join(out.split())
    assert code == 1 and "need at least 88" not in text, text
    # too few requests for the check too: the count that judges the split, not the weights (f38d)
    assert "7 requests tell whether the split is 67/33, but not whether the weights made it: routing without them " \
           "spreads requests evenly over the pods, 66.67/33.33 here; weights like 10/90 show the weights at work." \
           in text, text


def test_suggested_weights_go_to_subsets_with_pods() -> None:
    assert demo.telling_weights({"v1": 2 / 3, "v2": 1 / 3}) == "10/90"
    assert demo.telling_weights({"a": 0.5, "b": 0.5, "c": 0.0}) == "90/10/0"
    assert demo.telling_weights({"v1": 1.0, "v2": 0.0}) == ""  # one subset with pods: no weights tell


# ------------------------------------------------------------------ M4: subsets and clients without pods


def test_a_subset_selecting_no_pod_is_said_to_select_none(state_root, no_env) -> None:
    docs = _docs()
    _doc(docs, "DestinationRule", "fortio")["spec"]["subsets"][1]["labels"] = {"version": "v7"}
    _sandbox("h112f", docs)
    with pytest.raises(KmeshctlError) as refused:
        _target("h112f")
    message = str(refused.value)
    assert "DestinationRule default/fortio subset v2 (version=v7) selects no pod of Service default/fortio in " \
           "sandbox h112f" in message and "header=server" not in message, message


def test_a_subset_with_replicas_0_is_refused_before_any_request(state_root, no_env, stand_ins, capsys) -> None:
    docs = _docs()
    _doc(docs, "Deployment", "fortio-v2")["spec"]["replicas"] = 0
    _sandbox("h112g", docs)
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h112g", "-c", "10")
    assert code == 1 and not out, err
    assert err.startswith("Target: local sandbox h112g\n"), err
    assert "Error: subset v2 of VirtualService default/fortio in sandbox h112g has no pod (replicas 0 in Deployment " \
           "default/fortio-v2): its requests would fail (HTTP 503); send it nothing, `kmeshctl demo traffic-shift " \
           "--sandbox h112g -c 10 --weights 100/0`, or make the sandbox again with replicas >= 1 for it" in err, err
    assert not stand_ins["pushes"]


def test_weights_giving_a_podless_subset_nothing_are_not_refused() -> None:
    docs = _docs()
    _doc(docs, "Deployment", "fortio-v2")["spec"]["replicas"] = 0
    for route, weight in zip(_vs_http(docs)[0]["route"], (100, 0)):
        route["weight"] = weight
    subject = demo.demo_subject(from_documents(docs))
    demo.check_pods(subject, [[100, 0]], "sandbox h112h")
    with pytest.raises(KmeshctlError, match="give it weight 0 in every --weights set, or make"):
        demo.check_pods(subject, [[100, 0], [50, 50]], "sandbox h112h")


def test_netutils_with_replicas_0_is_said_to_have_replicas_0(state_root, no_env) -> None:
    docs = _docs()
    _doc(docs, "Deployment", "netutils")["spec"]["replicas"] = 0
    state = _sandbox("h112i", docs)
    with pytest.raises(KmeshctlError) as refused:
        demo_target.check_demo_ready(state)
    message = str(refused.value)
    assert "has no netutils pod in namespace default: Deployment default/netutils has replicas 0;" in message
    assert "made without" not in message, message


# ------------------------------------------------------------------ L1, L7


def test_the_same_server_refusal_names_the_sandbox_after_the_target_line(state_root, no_env, capsys) -> None:
    docs = _docs()
    for name in ("fortio-v1", "fortio-v2"):
        args = _doc(docs, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["args"]
        args[:] = [a.replace("header=server:2", "header=server:1") for a in args]
    _sandbox("h112j", docs)
    code, out, err = cli(capsys, "demo", "traffic-shift", "--sandbox", "h112j")
    lines = err.splitlines()
    assert code == 1 and lines[0] == "Target: local sandbox h112j", err
    assert lines[1].startswith("Error: sandbox h112j: subsets v1 and v2 of fortio send the same Server header"), err


def test_the_several_sandboxes_error_does_not_name_an_untyped_target(tmp_path: Path, capsys, monkeypatch,
                                                                    no_env) -> None:
    root = tmp_path / "state"
    for name in ("h112k-a", "h112k-b"):
        (root / f"sandbox-{name}").mkdir(parents=True)
        (root / f"sandbox-{name}" / "state.json").write_text("{}")
    monkeypatch.setattr(state_mod, "STATE_ROOT", root)
    monkeypatch.setenv("KUBECONFIG", str(_dead_kubeconfig(tmp_path / "dead.yaml")))
    code, out, err = cli(capsys, "--request-timeout", "2", "demo", "traffic-shift")
    assert code == 2 and not out and err.count("\n") == 1, err
    assert err.startswith("Error: no reachable cluster: ") and "--target" not in err.split(";")[0], err


# ------------------------------------------------------------------ --plot without --force


def test_an_existing_plot_file_is_refused_before_any_work(tmp_path: Path, capsys, monkeypatch, no_env) -> None:
    plot = tmp_path / "split.png"
    plot.write_bytes(b"earlier")
    chosen: list[object] = []
    monkeypatch.setattr(demo, "choose_target", lambda *a, **k: chosen.append(a) or (_ for _ in ()).throw(
        KmeshctlError("h112 stand-in: no target")))
    code, out, err = cli(capsys, "demo", "traffic-shift", "--plot", str(plot))
    assert code == 2 and not chosen, err
    assert err.startswith(f"Error: --plot {plot}: exists; pass --force to replace it: `kmeshctl demo traffic-shift "
                          f"--plot {plot} --force`, or another --plot"), err
    assert plot.read_bytes() == b"earlier"
    code, out, err = cli(capsys, "demo", "traffic-shift", "--plot", str(plot), "--force")
    assert code == 1 and chosen and "h112 stand-in" in err, err


# ------------------------------------------------------------------ a real sandbox (root)


@pytest.mark.root
def test_a_real_sandbox_on_9090_with_a_canary_route_first(tmp_path: Path) -> None:
    """`sandbox up -f` of fortio on port 9090 behind a /canary route then the catch-all:
    real curl to 9090, real Envoy routing the catch-all's weights, put back afterwards."""
    import os
    import sys

    from kmeshctl.sandbox import sandbox as sb

    name = "h112rt"
    docs = _canary_first(_docs())
    _doc(docs, "Service", "fortio")["spec"]["ports"][0]["port"] = 9090
    manifests = tmp_path / "fortio-9090.yaml"
    manifests.write_text(yaml.safe_dump_all(docs, sort_keys=False))
    sb.up(name, [manifests])
    try:
        result = subprocess.run([sys.executable, "-m", "kmeshctl", "demo", "traffic-shift", "--sandbox", name,
                                 "-c", "40", "-o", "json", "--weights", "0/100,100/0"], capture_output=True,
                                text=True, timeout=300,
                                env={k: v for k, v in os.environ.items() if not k.startswith("KMESHCTL_")})
        data = json.loads(result.stdout)
        assert result.returncode == 0 and data["passed"], result.stderr
        assert [p["counts"] for p in data["phases"]] == [{"v1": 0, "v2": 40}, {"v1": 40, "v2": 0}], data
        assert ":9090/" in result.stderr, result.stderr
        state = state_mod.SandboxState.load(name)
        vs = from_documents(list(yaml.safe_load_all(state.manifests_file.read_text()))).virtual_services[0]
        assert [d.weight for d in vs.http[1].destinations] == [80, 20]  # put back
    finally:
        sb.down(name)
