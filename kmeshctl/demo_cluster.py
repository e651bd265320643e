"""The demo's cluster target: applies examples/fortio/ with the Kubernetes API
(server-side apply, validated against the cluster's own CRDs first), waits for the
pods, and execs the request loop in the netutils pod against the fortio ClusterIP.
Weight changes patch the VirtualService. With a kmeshctl waypoint (`kmeshctl waypoint
apply`) the demo then asks each waypoint pod's controller (its /status: the weights
Envoy's own config_dump shows) until every pod applies the new weights; with another
waypoint (ASM's, istiod's) it cannot observe that and waits a settle time instead."""

from __future__ import annotations

import copy
import json
import time
from typing import Callable, Iterator, Optional

from kmeshctl import apply as applier
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import KubeClient, connect_reachable, core_v1_api, stream_refusal
from kmeshctl.precheck import parse_server_version
from kmeshctl.rollout import pod_state, selector_string
from kmeshctl.validate import supported_kubernetes_versions

POD_READY_TIMEOUT_S = 300.0
POLL_S = 1.0
SETTLE_S = 3.0  # istiod -> waypoint propagation of a VirtualService change (a waypoint we cannot ask)
WAYPOINT_APPLY_TIMEOUT_S = 30.0
WAYPOINT_POLL_S = 0.2
VS_API = "networking.istio.io/v1alpha3"
ERROR_CHANNEL = 3  # exec's status channel: a Status once the command ended
CLIENT_APP = "netutils"


def reachable_cluster() -> tuple[Optional[KubeClient], Optional[KmeshctlError]]:
    """(client, None) when a configured cluster answers, else (None, the error saying why
    not: a UsageError when the kubeconfig or context given does not load)."""
    try:
        return connect_reachable(), None
    except KmeshctlError as err:
        return None, err


def _check_exit(status_json: str, command: str, where: str) -> None:
    """Raise when the exec'd command did not succeed (its Status on the error channel)."""
    try:
        status = json.loads(status_json) if status_json else {}
    except ValueError:
        status = {"status": "Failure", "message": status_json}
    if status.get("status", "Success") != "Success":
        message = " ".join(str(status.get("message", "")).split())
        raise KmeshctlError(f"{command} in pod {where} failed: {message}; check that the pod has sh "
                            "and curl (the example's netutils image has both)")


def in_namespace(documents: list[dict], namespace: Optional[str]) -> list[dict]:
    """The demo's objects moved to ``namespace`` (-n/--namespace of the cluster demo): the
    Namespace object is that one, every other object lives in it; None: as written."""
    if not namespace:
        return documents
    moved = [copy.deepcopy(d) for d in documents]
    for obj in moved:
        if obj["kind"] == "Namespace":
            obj["metadata"]["name"] = namespace
        else:
            obj["metadata"]["namespace"] = namespace
    return moved


def validation_version(client: KubeClient) -> str:
    """The cluster's MAJOR.MINOR, clamped to the schemas kubernetes-validate ships."""
    major, minor = parse_server_version(client.server_version())
    supported = supported_kubernetes_versions()
    found = f"{major}.{minor}"
    if found in supported:
        return found
    older = [v for v in supported if tuple(map(int, v.split("."))) <= (major, minor)]
    return older[-1] if older else supported[0]


def _applies(status: dict, route_suffix: str, wanted: dict[str, int]) -> bool:
    """Whether a waypoint controller's /status shows Envoy routing the Service's port(s)
    with `wanted` (subset -> weight); cluster names are outbound|PORT|SUBSET|HOST."""
    routes = [w for name, w in status.get("routes", {}).items() if name.endswith(route_suffix)]
    return bool(routes) and all({c.split("|")[2]: w for c, w in r.items()} == wanted for r in routes)


class ClusterTarget:
    name = "cluster"

    def __init__(self, client: KubeClient, documents: list[dict], vs_ref: tuple[str, str],
                 settle_s: float = SETTLE_S, ready_timeout_s: float = POD_READY_TIMEOUT_S) -> None:
        self.client = client
        self.description = f"cluster {client.host}"
        self._documents = documents
        self._vs_namespace, self._vs_name = vs_ref
        self._settle_s = settle_s
        self._ready_timeout_s = ready_timeout_s
        self._original_http: Optional[list] = None
        self._cluster_ip = ""
        self._client_pod = ""
        self._client_namespace = ""
        self._core = None

    # ----- setup ----------------------------------------------------------------------

    def prepare(self, progress: Callable[[str], None]) -> None:
        objs = [copy.deepcopy(d) for d in self._documents]
        for obj in objs:
            if obj["kind"] != "Namespace":
                obj["metadata"].setdefault("namespace", "default")
        applier.preflight(self.client, objs, validation_version(self.client), None)
        applier.apply_all(self.client, objs, lambda r: progress(f"{r.ref} {r.action}"))
        for obj in objs:
            if obj["kind"] == "Deployment":
                self._wait_pods(obj, progress)
        self._cluster_ip = self._fortio_cluster_ip(objs)
        self._client_namespace, self._client_pod = self._pick_client(objs)
        progress(f"fortio ClusterIP {self._cluster_ip}; client pod {self._client_pod}")

    def _wait_pods(self, deployment: dict, progress: Callable[[str], None]) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        wanted = int(spec.get("replicas", 1))
        selector = selector_string(spec["selector"]["matchLabels"])
        deadline = time.monotonic() + self._ready_timeout_s
        started = time.monotonic()
        while True:
            pods = [pod_state(p) for p in self.client.list("v1", "Pod", meta["namespace"], selector)
                    if not p["metadata"].get("deletionTimestamp")]
            ready = [p for p in pods if p.ready]
            if len(ready) >= wanted:
                progress(f"Deployment {meta['name']}: {len(ready)}/{wanted} pods ready")
                return
            if time.monotonic() > deadline:
                reasons = "; ".join(f"{p.name}: {p.reason}" for p in pods if not p.ready) or "no pods"
                raise KmeshctlError(f"Deployment {meta['namespace']}/{meta['name']}: {len(ready)}/"
                                    f"{wanted} pods ready after {self._ready_timeout_s:.0f}s ({reasons}); "
                                    f"check `kubectl describe pod -n {meta['namespace']} -l {selector}`")
            progress(f"waiting for Deployment {meta['name']}: {len(ready)}/{wanted} ready "
                     f"({time.monotonic() - started:.0f}s of {self._ready_timeout_s:.0f}s)")
            time.sleep(POLL_S)

    def _fortio_cluster_ip(self, objs: list[dict]) -> str:
        service = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "fortio")
        live = self.client.get("v1", "Service", "fortio", service["metadata"]["namespace"]) or {}
        cluster_ip = (live.get("spec") or {}).get("clusterIP")
        if not cluster_ip or cluster_ip == "None":
            raise KmeshctlError("Service fortio has no ClusterIP yet: re-run the demo in a moment")
        return cluster_ip

    def _pick_client(self, objs: list[dict]) -> tuple[str, str]:
        deployment = next(o for o in objs if o["kind"] == "Deployment"
                          and o["metadata"]["name"] == CLIENT_APP)
        namespace = deployment["metadata"]["namespace"]
        selector = selector_string(deployment["spec"]["selector"]["matchLabels"])
        pods = [pod_state(p) for p in self.client.list("v1", "Pod", namespace, selector)]
        ready = sorted(p.name for p in pods if p.ready)
        if not ready:
            raise KmeshctlError(f"no ready {CLIENT_APP} pod in namespace {namespace}")
        return namespace, ready[0]

    # ----- traffic ----------------------------------------------------------------------

    def service_url(self) -> str:
        return f"http://{self._cluster_ip}:80/"

    def _core_api(self):
        if self._core is None:
            self._core = core_v1_api()
        return self._core

    def run_loop(self, argv: list[str]) -> Iterator[str]:
        """`kubectl exec` the loop in the client pod, yielding its output line by line."""
        from kubernetes.stream import stream

        where = f"{self._client_namespace}/{self._client_pod}"
        try:
            response = stream(self._core_api().connect_get_namespaced_pod_exec, self._client_pod,
                              self._client_namespace, command=argv, stdout=True, stderr=True,
                              stdin=False, tty=False, _preload_content=False)
        except Exception as err:  # noqa: BLE001 - ApiException (upgrade refused) and transport errors
            raise KmeshctlError(f"cannot exec in pod {where} ({stream_refusal(err)}): check that it runs "
                                "and that you may create pods/exec") from err
        buffer = ""
        try:
            while response.is_open():
                response.update(timeout=1)
                if response.peek_stdout():
                    buffer += response.read_stdout()
                    *lines, buffer = buffer.split("\n")
                    yield from lines
            buffer += response.read_stdout() if response.peek_stdout() else ""
            yield from buffer.splitlines()
            _check_exit(response.read_channel(ERROR_CHANNEL), argv[0], where)
        finally:
            response.close()

    def touch(self, path: str) -> None:
        for _ in self.run_loop(["touch", path]):
            pass

    def set_weights(self, weights: list[int]) -> None:
        current = self.client.get(VS_API, "VirtualService", self._vs_name, self._vs_namespace)
        if current is None:
            raise KmeshctlError(f"VirtualService {self._vs_namespace}/{self._vs_name} is gone")
        http = copy.deepcopy(current["spec"]["http"])
        if self._original_http is None:
            self._original_http = copy.deepcopy(http)
        for route, weight in zip(http[0]["route"], weights):
            route["weight"] = weight
        self.client.merge_patch(VS_API, "VirtualService", self._vs_name, {"spec": {"http": http}},
                                self._vs_namespace)
        pods = self._kmeshctl_waypoint_pods(current)
        if pods:
            self._wait_waypoint_weights(pods, current, http[0]["route"])
        else:
            time.sleep(self._settle_s)

    # ----- the waypoint applied the change --------------------------------------------

    def _kmeshctl_waypoint_pods(self, vs: dict) -> list[tuple[str, str]]:
        """(namespace, pod) of the kmeshctl waypoint serving the VirtualService's first host."""
        from kmeshctl.waypoint import deploy, model

        host_ns, host = model.resolve_host(vs["spec"]["hosts"][0], self._vs_namespace)
        service = self.client.get("v1", "Service", host, host_ns)
        namespace = self.client.get("v1", "Namespace", host_ns)
        if service is None or namespace is None:
            return []
        snap = model.snapshot_from_objects([{**namespace, "kind": "Namespace"}, {**service, "kind": "Service"}])
        waypoint = snap.waypoint_of(snap.services[0])
        if waypoint is None:
            return []
        pods = self.client.list("v1", "Pod", waypoint[0], f"{deploy.GATEWAY_LABEL}={waypoint[1]},"
                                f"{deploy.WAYPOINT_LABEL}={waypoint[1]}")
        return [(waypoint[0], p["metadata"]["name"]) for p in pods
                if (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]

    def _waypoint_ref(self, pod: tuple[str, str]) -> tuple[str, str]:
        """(namespace, waypoint name) of a kmeshctl waypoint pod, from its labels."""
        from kmeshctl.waypoint import deploy

        live = self.client.get("v1", "Pod", pod[1], pod[0]) or {}
        labels = (live.get("metadata") or {}).get("labels") or {}
        return pod[0], labels.get(deploy.WAYPOINT_LABEL) or deploy.DEFAULT_NAME

    def _wait_waypoint_weights(self, pods: list[tuple[str, str]], vs: dict, routes: list[dict]) -> None:
        from kmeshctl.waypoint import deploy, model

        host_ns, host = model.resolve_host(vs["spec"]["hosts"][0], self._vs_namespace)
        suffix = f"|{model.service_hostname(host, host_ns)}"
        wanted = {r["destination"].get("subset", ""): int(r.get("weight", 100))
                  for r in routes if int(r.get("weight", 100)) > 0}
        if len(wanted) == 1:
            wanted = {subset: 100 for subset in wanted}
        deadline = time.monotonic() + WAYPOINT_APPLY_TIMEOUT_S
        pending, last_error = list(pods), ""
        while pending:
            still = []
            for pod in pending:
                try:
                    applied = _applies(deploy.pod_status(*pod), suffix, wanted)
                except KmeshctlError as err:  # a port-forward can fail once; the deadline decides
                    applied, last_error = False, str(err)
                if not applied:
                    still.append(pod)
            pending = still
            if not pending:
                return
            if time.monotonic() > deadline:
                waypoint_ns, waypoint_name = self._waypoint_ref(pending[0])
                raise KmeshctlError(f"waypoint pod(s) {', '.join(f'{n}/{p}' for n, p in pending)} did not apply "
                                    f"weights {wanted} within {WAYPOINT_APPLY_TIMEOUT_S:.0f}s{last_error and ' (' + last_error + ')'}: "
                                    f"see `kmeshctl waypoint status -n {waypoint_ns} --name {waypoint_name}` "
                                    "and the controller's log")
            time.sleep(WAYPOINT_POLL_S)

    def finish(self, progress: Callable[[str], None]) -> None:
        if self._original_http is not None:
            progress("restoring the VirtualService's weights")
            self.client.merge_patch(VS_API, "VirtualService", self._vs_name,
                                    {"spec": {"http": self._original_http}}, self._vs_namespace)
