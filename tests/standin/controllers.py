"""What the rest of a real control plane does to stored objects, simulated:

- ClusterIP allocation for Services on create (the API server's own allocator): a free
  address of the service range (from a /24 of its own per server, never 10.96.0.0/24: a
  local sandbox's Service VIPs, whose demo loops on this host a demo's sweep must not
  take for its own, nor another stand-in's), or the one the Service asks for (422 when taken), or
  one pinned by a test with `IpAllocator.pin` (to match a data plane that already serves
  the Service at that address); kept on update, released on delete;
- the DaemonSet controller (`daemonset_controller = "ready" | "stuck"`): one pod per Node, and (with
  `daemon_pod_start_s`) a pod made in place of one being deleted, started after that long;
- the Deployment controller (`deployment_controller = "ready" | "stuck"`): a ReplicaSet
  named after the pod template's hash, pods named `<replicaset>-<5 chars>` scheduled on the
  first Node, Deployment and ReplicaSet status. With "ready" the pods are Running and Ready
  (the kubelet's part: their `podIP` comes from the pod's backend when it has one);
  "stuck" leaves them Pending on an image pull. Without a Node they stay unscheduled.
"""

from __future__ import annotations

import copy
import hashlib
import ipaddress
import json
import math
import random
import secrets
import threading
from typing import TYPE_CHECKING, Optional

from .resources import DAEMONSET, DEPLOYMENT, POD, REPLICASET, HttpError, Resource, now

if TYPE_CHECKING:
    from .server import StandinApiServer

SERVICE_RANGE = ipaddress.IPv4Network("10.96.0.0/16")
POD_RANGE = ipaddress.IPv4Network("10.244.0.0/16")
FIRST_SERVICE_OFFSET = 10  # .1 is the `kubernetes` Service of a real cluster
NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the real controllers draw names from


class IpAllocator:
    def __init__(self) -> None:
        self.cluster_ips: dict[str, str] = {}  # ip -> "namespace/name"
        self.pinned: dict[str, str] = {}  # "namespace/name" -> ip
        self._next_service = random.randint(1, 254) * 256 + FIRST_SERVICE_OFFSET
        self._next_pod = 2

    def pin(self, namespace: str, name: str, ip: str) -> None:
        """The Service namespace/name gets `ip` when it is created."""
        self.pinned[f"{namespace}/{name}"] = str(ipaddress.IPv4Address(ip))

    def cluster_ip_for(self, service: dict) -> str:
        meta = service["metadata"]
        owner = f"{meta['namespace']}/{meta['name']}"
        wanted = service.get("spec", {}).get("clusterIP") or self.pinned.get(owner)
        if wanted:
            if self.cluster_ips.get(wanted, owner) != owner:
                raise HttpError(422, "Invalid", f'Service "{meta["name"]}" is invalid: spec.clusterIPs: Invalid '
                                f'value: []string{{"{wanted}"}}: failed to allocate IP {wanted}: provided IP is '
                                "already allocated")
            return wanted
        while True:
            candidate = str(SERVICE_RANGE.network_address + self._next_service)
            self._next_service += 1
            if candidate not in self.cluster_ips and candidate not in self.pinned.values():
                return candidate

    def pod_ip(self) -> str:
        self._next_pod += 1
        return str(POD_RANGE.network_address + self._next_pod - 1)


# -- on the API server's write path ----------------------------------------------------------


def allocate_on_create(api: "StandinApiServer", res: Resource, obj: dict, dry_run: bool) -> None:
    if res.kind != "Service":
        return
    spec = obj.setdefault("spec", {})
    if spec.get("clusterIP") == "None" or spec.get("type") == "ExternalName":
        return
    ip = api.ips.cluster_ip_for(obj)
    spec["clusterIP"], spec["clusterIPs"] = ip, [ip]
    if not dry_run:
        api.ips.cluster_ips[ip] = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"


def keep_allocations(res: Resource, current: dict, new: dict) -> None:
    """An update that leaves the ClusterIP out keeps it (it is immutable)."""
    if res.kind == "Service" and current.get("spec", {}).get("clusterIP"):
        spec = new.setdefault("spec", {})
        for name in ("clusterIP", "clusterIPs"):
            if name in current["spec"] and not spec.get(name):
                spec[name] = copy.deepcopy(current["spec"][name])


def release_on_delete(api: "StandinApiServer", res: Resource, obj: dict) -> None:
    if res.kind == "Service":
        api.ips.cluster_ips.pop(obj.get("spec", {}).get("clusterIP", ""), None)


def after_write(api: "StandinApiServer", res: Resource, obj: dict) -> None:
    meta = obj["metadata"]
    if res.kind == "DaemonSet" and api.daemonset_controller:
        args = [api, meta["namespace"], meta["name"]]
        threading.Timer(api.controller_delay, run_daemonset_controller, args).start()
    if res.kind == "Deployment" and api.deployment_controller:
        args = [api, meta["namespace"], meta["name"]]
        threading.Timer(api.controller_delay, run_deployment_controller, args).start()


# -- DaemonSet ----------------------------------------------------------------------------


def run_daemonset_controller(api: "StandinApiServer", namespace: str, name: str) -> None:
    """What the DaemonSet controller and kubelets would do: one pod per node, then status."""
    with api.lock:
        ds = api.objects.get(("apps", "daemonsets", namespace, name))
        if ds is None or ds.get("status", {}).get("observedGeneration") == ds["metadata"]["generation"]:
            return
        nodes = node_names(api)
        ready = api.daemonset_controller == "ready"
        for node in nodes:
            pod = _daemon_pod(ds, node, ready)
            api.remove(api.key(POD, pod))
            api.create(POD, pod, "kubelet")
        count = len(nodes)
        updated = copy.deepcopy(ds)
        updated["status"] = {
            "observedGeneration": ds["metadata"]["generation"], "desiredNumberScheduled": count,
            "currentNumberScheduled": count, "updatedNumberScheduled": count,
            "numberReady": count if ready else 0, "numberAvailable": count if ready else 0,
            "numberUnavailable": 0 if ready else count, "numberMisscheduled": 0,
        }
        api.store(DAEMONSET, ("apps", "daemonsets", namespace, name), updated)


def replace_daemon_pod(api: "StandinApiServer", pod: dict) -> None:
    """The DaemonSet controller's answer to a pod of its being deleted (``pod``, Terminating):
    a new pod on its node at once, or api.daemon_pod_make_s later (`<daemonset>-<5 chars>`,
    ContainerCreating), which its kubelet starts after api.daemon_pod_start_s (math.inf:
    never). Nothing when that is None, or the DaemonSet is gone or being deleted."""
    owner = next((o for o in pod["metadata"].get("ownerReferences") or [] if o.get("kind") == "DaemonSet"), None)
    if api.daemon_pod_start_s is None or owner is None:
        return
    ds = api.objects.get(("apps", "daemonsets", pod["metadata"]["namespace"], owner["name"]))
    if ds is None or ds["metadata"].get("deletionTimestamp") or ds["metadata"]["uid"] != owner.get("uid"):
        return
    if api.daemon_pod_make_s > 0:
        timer = threading.Timer(api.daemon_pod_make_s, _make_later, [api, ds["metadata"]["uid"], pod])
        timer.daemon = True
        timer.start()
        return
    _make_replacement(api, ds, pod)


def _make_later(api: "StandinApiServer", uid: str, pod: dict) -> None:
    """replace_daemon_pod's replacement, made api.daemon_pod_make_s late: none once its
    DaemonSet is gone or being deleted meanwhile."""
    with api.lock:
        ds = api.objects.get(("apps", "daemonsets", pod["metadata"]["namespace"],
                              pod["metadata"]["ownerReferences"][0]["name"]))
        if ds is not None and not ds["metadata"].get("deletionTimestamp") and ds["metadata"]["uid"] == uid:
            _make_replacement(api, ds, pod)


def _make_replacement(api: "StandinApiServer", ds: dict, pod: dict) -> None:
    node = pod["spec"]["nodeName"]
    new = _daemon_pod(ds, node, ready=True)
    new["metadata"]["name"] = f"{ds['metadata']['name']}-" + "".join(secrets.choice(NAME_ALPHABET) for _ in range(5))
    new["status"] = creating_status(new["spec"])
    created = api.create(POD, new, "kube-controller-manager")
    if api.daemon_pod_start_s != math.inf:
        timer = threading.Timer(api.daemon_pod_start_s, _start_daemon_pod,
                                [api, api.key(POD, created), created["metadata"]["uid"]])
        timer.daemon = True
        timer.start()


def _start_daemon_pod(api: "StandinApiServer", key: tuple, uid: str, startup_done: bool = False) -> None:
    """The kubelet's status update of a replacement pod whose container now runs (and, with
    api.daemon_pod_startup_s, once more when its startup probe passed: ``startup_done``)."""
    with api.lock:
        current = api.objects.get(key)
        if current is None or current["metadata"].get("uid") != uid or current["metadata"].get("deletionTimestamp"):
            return
        running = copy.deepcopy(current)
        running["status"] = pod_status(running["spec"], True, None)
        if api.daemon_pod_startup_s > 0 and not startup_done:  # running, its startup probe not passed yet
            for state in running["status"]["containerStatuses"]:
                state["started"] = state["ready"] = False
            running["status"]["conditions"] = [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}]
            timer = threading.Timer(api.daemon_pod_startup_s, _start_daemon_pod, [api, key, uid, True])
            timer.daemon = True
            timer.start()
        api.store(POD, key, running)


def creating_status(spec: dict) -> dict:
    """A pod its kubelet has taken and is creating the containers of."""
    states = [{"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
               "started": False, "state": {"waiting": {"reason": "ContainerCreating"}}}
              for c in spec.get("containers", [])]
    return {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": states}


def node_names(api: "StandinApiServer") -> list[str]:
    return sorted(o["metadata"]["name"] for k, o in api.objects.items() if k[1] == "nodes")


def _daemon_pod(ds: dict, node: str, ready: bool) -> dict:
    template = copy.deepcopy(ds["spec"]["template"])
    spec = template["spec"]
    spec["nodeName"] = node
    meta = ds["metadata"]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-{node}", "namespace": meta["namespace"],
            "labels": template.get("metadata", {}).get("labels", {}),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": meta["name"],
                                 "uid": meta["uid"], "controller": True}],
        },
        "spec": spec, "status": pod_status(spec, ready, None),
    }


def pod_status(spec: dict, ready: bool, pod_ip: Optional[str]) -> dict:
    containers = spec.get("containers", [])
    if ready:
        states = [{"name": c["name"], "image": c.get("image", ""), "imageID": image_id(c.get("image", "")),
                   "containerID": f"containerd://{secrets.token_hex(32)}", "ready": True, "restartCount": 0,
                   "started": True, "state": {"running": {"startedAt": now()}}} for c in containers]
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}],
                  "containerStatuses": states, "startTime": now()}
        if pod_ip:
            status["podIP"], status["podIPs"] = pod_ip, [{"ip": pod_ip}]
        return status
    states = [{"name": c["name"], "image": c.get("image", ""), "imageID": "", "ready": False, "restartCount": 0,
               "started": False, "state": {"waiting": {"reason": "ImagePullBackOff",
                                     "message": f'Back-off pulling image "{c.get("image", "")}"'}}}
              for c in containers]
    return {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": states}


def image_id(image: str) -> str:
    """What a kubelet reports for a pulled image (containerStatuses[].imageID is required)."""
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repository}@sha256:{hashlib.sha256(image.encode()).hexdigest()}"


def unscheduled_status() -> dict:
    return {"phase": "Pending", "conditions": [{
        "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
        "message": "0/0 nodes are available: no nodes available to schedule pods."}]}


# -- Deployment -> ReplicaSet -> Pods --------------------------------------------------------


def template_hash(template: dict) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(NAME_ALPHABET[b % len(NAME_ALPHABET)] for b in digest[:10])


def run_deployment_controller(api: "StandinApiServer", namespace: str, name: str) -> None:
    with api.lock:
        deployment = api.objects.get(("apps", "deployments", namespace, name))
        if deployment is None:
            return
        replicaset = _current_replicaset(api, deployment)
        pods = _scale(api, replicaset, int(deployment["spec"].get("replicas", 1)))
        ready = sum(1 for p in pods if p.get("status", {}).get("phase") == "Running")
        counts = {"replicas": len(pods), "readyReplicas": ready, "availableReplicas": ready}
        _set_status(api, REPLICASET, replicaset, {**counts, "observedGeneration": 1})
        _set_status(api, DEPLOYMENT, deployment, {
            **counts, "updatedReplicas": len(pods), "observedGeneration": deployment["metadata"]["generation"],
            "unavailableReplicas": len(pods) - ready})


def _current_replicaset(api: "StandinApiServer", deployment: dict) -> dict:
    meta, spec = deployment["metadata"], deployment["spec"]
    pod_hash = template_hash(spec["template"])
    rs_name = f"{meta['name']}-{pod_hash}"
    for key, obj in list(api.objects.items()):
        owned = any(ref.get("uid") == meta["uid"] for ref in obj["metadata"].get("ownerReferences", []))
        if key[1] == "replicasets" and owned and key[3] != rs_name:
            api.remove(key)  # an older template's ReplicaSet, and (garbage collector) its pods
    existing = api.objects.get(("apps", "replicasets", meta["namespace"], rs_name))
    if existing is not None:
        return existing
    labels = {**spec["template"].get("metadata", {}).get("labels", {}), "pod-template-hash": pod_hash}
    template = copy.deepcopy(spec["template"])
    template.setdefault("metadata", {})["labels"] = labels
    replicaset = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": rs_name, "namespace": meta["namespace"], "labels": labels,
                     "ownerReferences": [_owner("apps/v1", "Deployment", meta)]},
        "spec": {"replicas": spec.get("replicas", 1), "template": template,
                 "selector": {"matchLabels": {**spec["selector"].get("matchLabels", {}),
                                              "pod-template-hash": pod_hash}}},
    }
    return api.create(REPLICASET, replicaset, "kube-controller-manager")


def _scale(api: "StandinApiServer", replicaset: dict, replicas: int) -> list[dict]:
    uid = replicaset["metadata"]["uid"]
    pods = [o for k, o in api.objects.items() if k[1] == "pods"
            and any(ref.get("uid") == uid for ref in o["metadata"].get("ownerReferences", []))]
    for extra in pods[replicas:]:
        api.remove(api.key(POD, extra))
    pods = pods[:replicas]
    while len(pods) < replicas:
        pods.append(_start_pod(api, replicaset))
    return pods


def _start_pod(api: "StandinApiServer", replicaset: dict) -> dict:
    meta, template = replicaset["metadata"], replicaset["spec"]["template"]
    suffix = "".join(secrets.choice(NAME_ALPHABET) for _ in range(5))
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"{meta['name']}-{suffix}", "namespace": meta["namespace"],
                     "labels": dict(template["metadata"]["labels"]),
                     "ownerReferences": [_owner("apps/v1", "ReplicaSet", meta)]},
        "spec": copy.deepcopy(template["spec"]),
    }
    nodes = node_names(api)
    if not nodes:
        pod["status"] = unscheduled_status()
        return api.create(POD, pod, "kube-controller-manager")
    pod["spec"]["nodeName"] = nodes[0]  # the scheduler's choice
    created = api.create(POD, pod, "kube-controller-manager")
    running = copy.deepcopy(created)
    backend = api.backend_of(created)
    pod_ip = getattr(backend, "ip", None) or api.ips.pod_ip()
    running["status"] = pod_status(running["spec"], api.deployment_controller == "ready", pod_ip)
    return api.store(POD, api.key(POD, running), running)  # the kubelet's status update


def _owner(api_version: str, kind: str, meta: dict) -> dict:
    return {"apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def _set_status(api: "StandinApiServer", res: Resource, obj: dict, status: dict) -> None:
    key = api.key(res, obj)
    current = api.objects.get(key)
    if current is None or current.get("status") == status:
        return
    updated = copy.deepcopy(current)
    updated["status"] = status
    api.store(res, key, updated)
