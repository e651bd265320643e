"""Pass 39 (t39c 2, 6), fixer f39e.

2: `waypoint apply --image X --wait` over a ready waypoint reported `1 pod ready` and exited
0 while the new pod could not pull X (the old pod still served). The wait now follows the
Deployment's rollout as `kubectl rollout status` does, and fails naming the stuck pod's
reason and a put-back line with the image X replaced; `waypoint status` says the same.
6: a stop after every object was applied said "to apply the rest"; a stop before any write
over an existing waypoint said "before anything was applied" as if there were none.

The stand-in's own Deployment controller replaces a template's pods at once; a real one
rolls: the new ReplicaSet's pods first, the old ones kept until the new are available.
RollingController below is that controller for these tests (maxSurge 1, maxUnavailable 0:
the defaults rounded for one replica), with the kubelet's answer chosen by image.
"""

from __future__ import annotations

import copy
import shlex
import threading
import time
from typing import Any

from kmeshctl.waypoint import deploy
from kmeshctl.waypoint.rollout import DeploymentRollout, rollout_of
from standin import controllers
from standin.resources import DEPLOYMENT, POD, REPLICASET
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

GOOD = "docker.io/kmeshctl/kmeshctl-waypoint:0.1.0-good"
BAD = "nosuch/img:2"  # no registry has it: the kubelet backs off pulling it
CRASHING = "docker.io/kmeshctl/kmeshctl-waypoint:0.1.0-crashes"


class RollingController:
    """The Deployment controller and kubelet of a real cluster, for waypoint Deployments:
    a ReplicaSet per template (revision annotated), the new one's pods made first, the old
    ones deleted once the new ones are available; a pod of BAD waits in ImagePullBackOff,
    one of CRASHING runs with its envoy container in CrashLoopBackOff."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self._original = server.after_write
        server.after_write = self._after_write

    def _after_write(self, res: Any, obj: dict) -> None:
        self._original(res, obj)
        if res.kind == "Deployment":
            meta = obj["metadata"]
            timer = threading.Timer(0.1, self.sync, [meta["namespace"], meta["name"]])
            timer.daemon = True
            timer.start()

    def sync(self, ns: str, name: str) -> None:
        api = self.server
        with api.lock:
            deployment = api.objects.get(("apps", "deployments", ns, name))
            if deployment is None:
                return
            wanted = int(deployment["spec"].get("replicas", 1))
            current, older = self._replicasets(deployment)
            new_pods = self._scale(current, wanted)
            available = sum(1 for p in new_pods if p["status"].get("phase") == "Running" and _ready(p))
            if available >= wanted:  # the new ones serve: the old ones go
                for old in older:
                    api.remove(api.key(REPLICASET, old))
            old_pods = sum(len(self._pods_of(old)) for old in older if api.key(REPLICASET, old) in api.objects)
            status = {"observedGeneration": deployment["metadata"]["generation"], "replicas": len(new_pods) + old_pods,
                      "updatedReplicas": len(new_pods), "readyReplicas": available + old_pods,
                      "availableReplicas": available + old_pods,
                      "unavailableReplicas": max(len(new_pods) + old_pods - available - old_pods, 0),
                      "conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]}
            updated = copy.deepcopy(api.objects[("apps", "deployments", ns, name)])
            updated["status"] = status
            api.store(DEPLOYMENT, ("apps", "deployments", ns, name), updated)

    def _replicasets(self, deployment: dict) -> tuple[dict, list[dict]]:
        api, meta = self.server, deployment["metadata"]
        rs_name = f"{meta['name']}-{controllers.template_hash(deployment['spec']['template'])}"
        owned = [o for k, o in api.objects.items() if k[1] == "replicasets"
                 and any(r.get("uid") == meta["uid"] for r in o["metadata"].get("ownerReferences", []))]
        current = next((o for o in owned if o["metadata"]["name"] == rs_name), None)
        if current is None:
            revision = 1 + max((int(o["metadata"]["annotations"][REVISION]) for o in owned), default=0)
            template = copy.deepcopy(deployment["spec"]["template"])
            current = api.create(REPLICASET, {
                "apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": rs_name, "namespace": meta["namespace"],
                             "labels": template["metadata"]["labels"], "annotations": {REVISION: str(revision)},
                             "ownerReferences": [_owner("Deployment", meta)]},
                "spec": {"replicas": deployment["spec"].get("replicas", 1), "template": template,
                         "selector": deployment["spec"]["selector"]}}, "kube-controller-manager")
        return current, [o for o in owned if o["metadata"]["name"] != rs_name]

    def _pods_of(self, replicaset: dict) -> list[dict]:
        uid = replicaset["metadata"]["uid"]
        return [o for k, o in self.server.objects.items() if k[1] == "pods"
                and any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences", []))]

    def _scale(self, replicaset: dict, wanted: int) -> list[dict]:
        pods = self._pods_of(replicaset)
        while len(pods) < wanted:
            pods.append(self._start(replicaset, len(pods)))
        return pods

    def _start(self, replicaset: dict, index: int) -> dict:
        api, meta = self.server, replicaset["metadata"]
        spec = copy.deepcopy(replicaset["spec"]["template"]["spec"])
        spec["nodeName"] = controllers.node_names(api)[0]
        pod = api.create(POD, {"apiVersion": "v1", "kind": "Pod",
                               "metadata": {"name": f"{meta['name']}-p{index}x{os_suffix()}",
                                            "namespace": meta["namespace"],
                                            "labels": dict(replicaset["spec"]["template"]["metadata"]["labels"]),
                                            "ownerReferences": [_owner("ReplicaSet", meta)]},
                               "spec": spec}, "kube-controller-manager")
        image = spec["containers"][0]["image"]
        running = copy.deepcopy(pod)
        running["status"] = controllers.pod_status(spec, image != BAD, api.ips.pod_ip())
        if image == CRASHING:
            _crash(running["status"])
        return api.store(POD, api.key(POD, running), running)


REVISION = "deployment.kubernetes.io/revision"
_count = [0]


def os_suffix() -> str:
    _count[0] += 1
    return str(_count[0])


def _owner(kind: str, meta: dict) -> dict:
    return {"apiVersion": "apps/v1", "kind": kind, "name": meta["name"], "uid": meta["uid"], "controller": True}


def _ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in pod.get("status", {}).get("conditions", []))


def _crash(status: dict) -> None:
    """The kubelet's status of a pod whose envoy container exits at once and is backed off."""
    envoy = status["containerStatuses"][0]
    envoy.update(ready=False, started=False, restartCount=3, state={"waiting": {
        "reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=envoy"}},
        lastState={"terminated": {"reason": "Error", "exitCode": 1}})
    status["conditions"] = [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]


def _programmed(cluster) -> None:  # noqa: F811
    """istiod's answer to the waypoint's Gateway: Programmed, with the Service's address."""
    cluster.server.set_status(deploy.GATEWAY_API, "Gateway", "waypoint", "default", {
        "addresses": [{"type": "Hostname", "value": "waypoint.default.svc.cluster.local"}],
        "conditions": [{"type": "Programmed", "status": "True", "reason": "Programmed"}]})


def _serving(cluster) -> RollingController:  # noqa: F811
    """A waypoint of GOOD, rolled out and programmed, as the tester had it."""
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    rolling = RollingController(cluster.server)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--image", GOOD).code == 0
    _programmed(cluster)
    ready = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--image", GOOD, "--wait", "--timeout", "10s")
    assert ready.code == 0 and "1 pod ready" in ready.err, ready
    return rolling


def _error(result) -> str:  # noqa: ANN001
    [line] = [line for line in result.err.splitlines() if line.startswith("Error:")]
    return line


def _backticked(text: str, word: str) -> list[str]:
    [line] = [part for part in text.split("`")[1::2] if word in part]
    return shlex.split(line)


# -- 2: the wait follows the rollout -----------------------------------------------------------


def test_wait_over_a_ready_waypoint_fails_while_the_new_image_cannot_be_pulled(cluster) -> None:  # noqa: F811
    _serving(cluster)
    started = time.monotonic()
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--image", BAD, "--wait", "--timeout", "3s")
    assert result.code == 1, result
    assert time.monotonic() - started >= 3, "it waited for the rollout, not for a pod of the old template"
    line = _error(result)
    assert "rollout: 1 old pod still there until the new one is available" in line, line
    assert "ImagePullBackOff: Back-off pulling image \"nosuch/img:2\"" in line, line
    assert "1 pod ready" not in result.err and "applied. Label" not in result.out, result
    assert f"or put back {GOOD}, the image {BAD} replaced: `" in line, line
    put_back = _backticked(line, f"--image {GOOD}")
    assert put_back[3:] == ["waypoint", "apply", "-n", "default", "--image", GOOD, "--wait", "--timeout",
                            "3s"], put_back
    old = [p for p in cluster.server.all_of("v1", "Pod") if _ready(p)]
    assert len(old) == 1 and old[0]["spec"]["containers"][0]["image"] == GOOD  # the old pod still serves
    again = cluster.as_typed(*put_back)  # pasted: the rollout goes back and the wait ends
    assert again.code == 0 and "1 pod ready" in again.err, again


def test_status_agrees_with_the_wait(cluster) -> None:  # noqa: F811
    _serving(cluster)
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--image", BAD).code == 0
    time.sleep(0.5)  # the controller's pass
    status = cluster.kmeshctl("waypoint", "status", "-n", "default")
    assert status.code == 1, status
    [problem] = [line for line in status.out.splitlines() if "its rollout is not done" in line]
    assert "1 old pod still there until the new one is available" in problem and "ImagePullBackOff" in problem, problem
    assert _backticked(problem, f"--image {GOOD}")[3:] == ["waypoint", "apply", "-n", "default", "--name",
                                                           "waypoint", "--image", GOOD], problem
    [pod_line] = [line for line in status.out.splitlines() if "not running (ImagePullBackOff" in line]
    assert f"or put back {GOOD}, the image {BAD} replaced" in pod_line, pod_line


def test_a_crashing_new_image_names_its_container_s_log_and_the_put_back(cluster) -> None:  # noqa: F811
    _serving(cluster)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--image", CRASHING, "--wait", "--timeout", "2s")
    assert result.code == 1, result
    line = _error(result)
    assert "CrashLoopBackOff" in line and "-c envoy --previous" in line, line
    assert f"or put back {GOOD}, the image {CRASHING} replaced" in line, line


def test_a_rollout_past_its_progress_deadline_fails_at_once(cluster, monkeypatch) -> None:  # noqa: F811
    _serving(cluster)
    real = rollout_of

    def past_deadline(deployment: Any) -> DeploymentRollout:
        rollout = real(deployment)
        timed_out = 'ReplicaSet "waypoint-x" has timed out progressing.'
        return DeploymentRollout(**{**rollout.__dict__, "deadline": timed_out})

    monkeypatch.setattr("kmeshctl.waypoint.rollout.rollout_of", past_deadline)
    started = time.monotonic()
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--image", BAD, "--wait", "--timeout", "60s")
    assert result.code == 1 and time.monotonic() - started < 30, result
    assert "exceeded its progress deadline (ReplicaSet \"waypoint-x\" has timed out progressing.)" in _error(result)


def test_rollout_reading_is_kubectl_rollout_status_s() -> None:
    def deployment(generation: int, **status: int) -> dict:
        return {"metadata": {"generation": generation}, "spec": {"replicas": 2, "template": {"spec": {
            "containers": [{"name": "envoy", "image": GOOD}, {"name": "controller", "image": GOOD}]}}},
            "status": status}

    assert not rollout_of(None).done and rollout_of(None).waiting_for() == "its Deployment is not there"
    unseen = rollout_of(deployment(3, observedGeneration=2, replicas=2, updatedReplicas=2, availableReplicas=2))
    assert unseen.waiting_for() == "the Deployment controller has not seen the new template yet"
    assert rollout_of(deployment(3, observedGeneration=3, replicas=3, updatedReplicas=1, availableReplicas=2)
                      ).waiting_for() == "1 of 2 new pods made"
    assert rollout_of(deployment(3, observedGeneration=3, replicas=3, updatedReplicas=2, availableReplicas=2)
                      ).waiting_for() == "1 old pod still there until the new ones are available"
    assert rollout_of(deployment(3, observedGeneration=3, replicas=2, updatedReplicas=2, availableReplicas=1)
                      ).waiting_for() == "1 of 2 new pods available"
    done = rollout_of(deployment(3, observedGeneration=3, replicas=2, updatedReplicas=2, availableReplicas=2))
    assert done.done and done.image == GOOD


# -- 6: what a stop says --------------------------------------------------------------------------


def test_a_stop_after_every_object_was_applied_leaves_nothing_to_apply(cluster, monkeypatch) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))

    def stop(*_: Any, **__: Any) -> list[str]:
        raise KeyboardInterrupt  # Ctrl-C while tidying up leftovers, after the last object

    monkeypatch.setattr(deploy, "remove_leftovers_if_listed", stop)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp3", "--wait")
    assert result.code == 130, result
    line = _error(result)
    assert "all 6 objects of waypoint default/wp3 applied; nothing is left to apply, the rollout goes on (see " \
           "`kmeshctl --kubeconfig" in line and "waypoint status -n default --name wp3`)" in line, line
    assert "the rest" not in line and "not applied" not in line, line


def test_a_stop_while_waiting_says_the_rollout_goes_on(cluster, monkeypatch) -> None:  # noqa: F811
    _serving(cluster)

    def stop(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(deploy, "wait_ready", stop)
    line = _error(cluster.kmeshctl("waypoint", "apply", "-n", "default", "--image", GOOD, "--wait"))
    assert "while waiting: all 6 objects of waypoint default/waypoint applied; nothing is left to apply, the " \
           "rollout goes on (see `" in line and "the rest" not in line, line


def test_a_stop_before_any_write_over_an_existing_waypoint_says_it_was_there(cluster,  # noqa: F811
                                                                            monkeypatch) -> None:
    from kmeshctl import apply as applier

    _serving(cluster)

    def stop(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(applier, "preflight", stop)
    before = len(cluster.server.writes())
    line = _error(cluster.kmeshctl("waypoint", "apply", "-n", "default", "--image", GOOD, "--wait"))
    assert "before anything was applied" not in line, line
    assert "before this run applied anything: it changed nothing (waypoint default/waypoint was already there and " \
           "is as it was); re-run `" in line, line
    assert len(cluster.server.writes()) == before


def test_a_stop_before_any_write_of_a_new_waypoint_says_this_run_changed_nothing(cluster,  # noqa: F811
                                                                                  monkeypatch) -> None:
    from kmeshctl import apply as applier

    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    monkeypatch.setattr(applier, "preflight", lambda *_a, **_k: (_ for _ in ()).throw(KeyboardInterrupt()))
    line = _error(cluster.kmeshctl("waypoint", "apply", "-n", "default"))
    assert "before anything was applied; re-run `" in line and line.endswith("to apply it (this run changed nothing)")


def test_a_stop_before_connecting_says_this_run_changed_nothing(cluster, monkeypatch) -> None:  # noqa: F811
    from kmeshctl.waypoint import deploy as waypoint_deploy

    def stop(*_: Any, **__: Any) -> None:
        raise KeyboardInterrupt  # Ctrl-C while the flags are checked: no cluster asked yet

    # render: the body's flag checks (check_apply_namespace runs at parse time too: badinput.VALUE_CHECKS)
    monkeypatch.setattr(waypoint_deploy, "render", stop)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp3", "--wait")
    assert result.code == 130, result
    line = _error(result)
    assert line.startswith("Error: waypoint apply stopped by Ctrl-C (SIGINT) before this run applied anything: it "
                           "changed nothing; re-run `kmeshctl --kubeconfig "), line
    assert line.endswith("waypoint apply -n default --name wp3 --wait` to apply it"), line
    assert not cluster.server.writes()
    dry = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--dry-run")
    assert dry.code == 130 and _error(dry) == ("Error: waypoint apply --dry-run stopped by Ctrl-C (SIGINT); nothing "
                                               "was applied (a dry run applies nothing)"), dry
