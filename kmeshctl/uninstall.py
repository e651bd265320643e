"""Removing what `install` created: delete in reverse apply order, waiting for each object
to be gone before the next (the EnvoyFilters first, the namespace last), idempotently.

The DaemonSet goes with foreground propagation, so it is gone only once every node agent
pod has finished: each agent sees its DaemonSet being deleted at SIGTERM and removes its
node's data path and annotations (kmeshctl.lifecycle) while its ServiceAccount and RBAC
still exist. Each node's agent pod is reported, and a node where the data path may remain
(its agent never ran, or pods there still carry the annotation an agent sets) is named
with the command that removes it."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Literal, Optional

from kmeshctl.enrollment import REDIRECTION_ANNOTATION, PodView, is_annotated
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.asciinum import duration_words
from kmeshctl.kube import ApiError, KubeClient, object_ref
from kmeshctl.namespaces import agent_namespaces
from kmeshctl.params import PLACEHOLDER_XDS_ADDRESS, WAITING_NOTE_AFTER_S, InstallParams
from kmeshctl.render import DAEMONSET_NAME, NOT_OURS, made_by_kmeshctl, render_manifests


Outcome = Literal["deleted", "would be deleted", "not found", "kind not served", "stopped", "needs cleanup",
                  "left alone", "kept"]
ABSENT: tuple[Outcome, ...] = ("not found", "kind not served")
# Not deleted: an object of one of kmeshctl's names it did not make, or its namespace holding the user's objects
SPARED: tuple[Outcome, ...] = ("left alone", "kept")
# The kinds a namespace kmeshctl made is checked for before it goes: one a user commonly keeps there
# (a fixed list, not discovery of every kind); a namespace holding any kmeshctl did not make is kept.
USER_KINDS = (("v1", "Pod"), ("v1", "Service"), ("v1", "ConfigMap"), ("v1", "Secret"), ("apps/v1", "Deployment"),
              ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"), ("batch/v1", "Job"))
# What the cluster (and istiod's namespace controller: the root cert and its CRL) put in every
# namespace: not the user's
CLUSTER_CONFIGMAPS = ("kube-root-ca.crt", "istio-ca-root-cert", "istio-ca-crl")
TOKEN_SECRET = "kubernetes.io/service-account-token"
UNCHECKED = "not checked: no cluster configured"
UNSCHEDULED = "(unscheduled)"  # the node of a pod no node took
NEVER_SCHEDULED = "never scheduled: it ran on no node, so left nothing to clean up"
NODE_CLEANUP_FIX = "run `kmeshctl node cleanup` on the node (as root)"
# Only the names of the rendered objects matter here; this value never reaches the cluster.
_PLACEHOLDER_CLUSTER = "uninstall"


@dataclass(frozen=True)
class DeleteResult:
    ref: str
    outcome: Outcome
    detail: str = ""

    @property
    def text(self) -> str:
        """The result's line: `ClusterRole kmesh: not made by kmeshctl, left alone`,
        `Namespace x kept: it holds ...`, else `REF OUTCOME (DETAIL)`."""
        if self.outcome in SPARED and self.detail == NOT_OURS:
            return f"{self.ref}: {NOT_OURS}, {self.outcome}"
        if self.outcome == "kept":
            return f"{self.ref} kept: {self.detail}"
        return f"{self.ref} {self.outcome}" + (f" ({self.detail})" if self.detail else "")


@dataclass(frozen=True)
class AgentPod:
    node: str
    name: str
    running: bool  # every container started: it can clean its node at SIGTERM (ready or not)
    state: str  # phase or waiting reason when not running
    scheduled: bool = True  # False: never bound to a node, so it never ran anywhere


def installed_objects(namespace: str, istio_namespace: str) -> list[dict]:
    """The objects install creates for these namespaces, in apply order (names and kinds are
    what matter; they do not depend on the other install parameters)."""
    params = InstallParams(PLACEHOLDER_XDS_ADDRESS, _PLACEHOLDER_CLUSTER, namespace=namespace,
                           istio_namespace=istio_namespace)
    return render_manifests(params)


def install_namespaces(client: KubeClient, objs: list[dict]) -> list[str]:
    """The namespaces the install on the cluster runs its node agent in, whatever -n says:
    those of kmeshctl's agent DaemonSets (kmeshctl.namespaces.agent_namespaces, the one
    lookup), then any other the ClusterRoleBinding binds the ServiceAccount of (its
    DaemonSet gone, after an earlier partial uninstall). Empty when neither is there, or
    this user may not read them. One function for install, status and uninstall: each
    refuses a -n that is not one of these."""
    binding = next(o for o in objs if o["kind"] == "ClusterRoleBinding")
    account = next(o for o in objs if o["kind"] == "ServiceAccount")["metadata"]["name"]
    bound = _readable(lambda: client.get(binding["apiVersion"], binding["kind"], binding["metadata"]["name"]))
    bound = bound if made_by_kmeshctl(bound) else None  # a binding of that name kmeshctl did not make says nothing
    subjects = {s.get("namespace") for s in (bound or {}).get("subjects") or []
                if s.get("kind") == "ServiceAccount" and s.get("name") == account}
    running = _readable(lambda: agent_namespaces(client)) or []
    return running + sorted(filter(None, subjects - set(running)))


def install_istio_namespaces(client: KubeClient, objs: list[dict]) -> list[str]:
    """The namespaces holding the EnvoyFilters an install on the cluster applied (those
    ``objs`` names, labelled as kmeshctl's), whatever --istio-namespace says; empty when
    there are none, or the kind is not served or not readable."""
    filters = [o for o in objs if o["kind"] == "EnvoyFilter"]
    if not filters:
        return []
    names = {o["metadata"]["name"] for o in filters}
    found = _readable(lambda: _managed(client, filters[0])) or []
    return sorted({f["metadata"].get("namespace") for f in found if f["metadata"]["name"] in names} - {None})


class InstalledElsewhere(UsageError):
    """The install on the cluster uses another namespace than a flag says (exit 2):
    ``parameter`` (namespace or istio_namespace) is the flag's, ``found`` the install's.
    Acting on the flag's namespace would rebind or delete the install's cluster-scoped
    objects, or leave its EnvoyFilters behind."""

    def __init__(self, problem: str, parameter: str, found: str) -> None:
        super().__init__(problem)
        self.parameter, self.found = parameter, found


def check_install_namespaces(client: KubeClient, objs: list[dict], namespace: str, istio_namespace: str) -> None:
    """Before any write: ``namespace`` / ``istio_namespace`` are those of the install on
    the cluster (install_namespaces, install_istio_namespaces), when there is one; else
    InstalledElsewhere naming the install's."""
    found = install_namespaces(client, objs)
    if found and namespace not in found:
        raise InstalledElsewhere(f"kmesh is installed in namespace {found[0]}, not {namespace}", "namespace", found[0])
    filters = install_istio_namespaces(client, objs)
    if filters and istio_namespace not in filters:
        raise InstalledElsewhere(f"kmesh's EnvoyFilters are in namespace {filters[0]}, not {istio_namespace}",
                                 "istio_namespace", filters[0])


def _managed(client: KubeClient, obj: dict, field_selector: Optional[str] = None) -> list[dict]:
    """The objects of ``obj``'s kind in every namespace with its app / managed-by labels."""
    if not client.is_served(obj["apiVersion"], obj["kind"]):
        return []
    selector = ",".join(f"{k}={v}" for k, v in obj["metadata"]["labels"].items()
                        if k in ("app", "app.kubernetes.io/managed-by"))
    return client.list(obj["apiVersion"], obj["kind"], label_selector=selector, field_selector=field_selector)


def _readable(read: Callable[[], Any]) -> Any:
    """``read()``, or None when this user may not (the deletes or applies themselves
    then say what this user may do)."""
    try:
        return read()
    except ApiError as err:
        if err.status not in (401, 403, 404):
            raise
        return None


def delete_one(client: KubeClient, obj: dict, dry_run: bool = False) -> DeleteResult:
    """Delete ``obj`` when it is kmeshctl's (else the result of deletable saying why not);
    ``dry_run``: the API server checks the delete (dryRun=All), nothing goes."""
    current, spared = deletable(client, obj)
    if current is None:
        assert spared is not None
        return spared
    meta = obj["metadata"]
    propagation = "Foreground" if obj["kind"] == "DaemonSet" else "Background"
    # only the object read as kmeshctl's: one made meanwhile under that name is another object (409)
    deleted = client.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"), propagation,
                            dry_run=dry_run, preconditions={"uid": current["metadata"]["uid"]}
                            if current["metadata"].get("uid") else None)
    done: Outcome = "would be deleted" if dry_run else "deleted"
    return DeleteResult(object_ref(obj), done if deleted else "not found")


def deletable(client: KubeClient, obj: dict) -> tuple[Optional[dict], Optional[DeleteResult]]:
    """(``obj`` as the cluster has it, None) when uninstall may delete it: it exists and
    kmeshctl made it, and, a namespace, holds nothing kmeshctl did not make; else (None,
    the result saying why not: absent, not kmeshctl's, or kept for the user's objects)."""
    ref, meta = object_ref(obj), obj["metadata"]
    if not client.is_served(obj["apiVersion"], obj["kind"]):
        return None, DeleteResult(ref, "kind not served")
    try:
        current = client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    except ApiError as err:
        if err.status not in (401, 403):
            raise
        raise ApiError(err.status, err.reason, f"cannot tell whether kmeshctl made {ref}, so nothing more was "
                       f"deleted: {err.problem}", err.causes,
                       fix=err.fix or "grant this user get on it (`kmeshctl precheck --uninstall` lists what "
                                      "uninstall needs)") from err
    if current is None:
        return None, DeleteResult(ref, "not found")
    if not made_by_kmeshctl(current):
        return None, DeleteResult(ref, "kept" if obj["kind"] == "Namespace" else "left alone", NOT_OURS)
    if obj["kind"] == "Namespace":
        held = user_objects(client, meta["name"])
        if held:
            return None, DeleteResult(ref, "kept", held)
    return current, None


def user_objects(client: KubeClient, namespace: str) -> str:
    """`it holds objects kmeshctl did not make (ConfigMap ns/foo, ...)`: those of USER_KINDS
    in ``namespace`` (not the cluster's in every namespace, nor the agent DaemonSet's
    pods), a few named; empty when none. A kind this user may not list keeps it too."""
    found: list[str] = []
    for api_version, kind in USER_KINDS:
        if not client.is_served(api_version, kind):
            continue
        try:
            objs = client.list(api_version, kind, namespace)
        except ApiError as err:
            if err.status not in (401, 403):
                raise
            return f"this user may not list its {kind} objects, so cannot tell it holds only kmeshctl's"
        found += [f"{kind} {namespace}/{o['metadata']['name']}" for o in objs if not _cluster_made(kind, o)]
    if not found:
        return ""
    more = f" and {len(found) - 5} more" if len(found) > 5 else ""
    return f"it holds objects kmeshctl did not make ({', '.join(found[:5])}{more})"


def _cluster_made(kind: str, obj: dict) -> bool:
    """kmeshctl's own, or what the cluster puts in each namespace (the CA ConfigMaps,
    service-account token Secrets), or a pod of kmeshctl's agent DaemonSet."""
    meta = obj["metadata"]
    if made_by_kmeshctl(obj):
        return True
    if kind == "ConfigMap":
        return meta["name"] in CLUSTER_CONFIGMAPS
    if kind == "Secret":
        return obj.get("type") == TOKEN_SECRET
    if kind == "Pod":
        return any(o.get("kind") == "DaemonSet" and o.get("name") == DAEMONSET_NAME
                   for o in meta.get("ownerReferences") or [])
    return False


def agent_pods(client: KubeClient, ds: dict) -> list[AgentPod]:
    """The pods the DaemonSet ``ds`` (a rendered object) runs now, one per node."""
    meta = ds["metadata"]
    selector = ",".join(f"{k}={v}" for k, v in ds["spec"]["selector"]["matchLabels"].items())
    pods = client.list("v1", "Pod", meta.get("namespace"), label_selector=selector)
    return sorted((_agent_pod(p) for p in pods), key=lambda a: (a.node, a.name))


def _agent_pod(pod: dict) -> AgentPod:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    running = status.get("phase") == "Running" and bool(statuses) and all(
        "running" in (c.get("state") or {}) for c in statuses)
    waiting = [c["state"]["waiting"].get("reason", "") for c in statuses if "waiting" in (c.get("state") or {})]
    node = (pod.get("spec") or {}).get("nodeName") or ""
    return AgentPod(node=node or UNSCHEDULED, name=pod["metadata"]["name"], running=running,
                    state=", ".join(filter(None, waiting)) or status.get("phase", "Unknown"), scheduled=bool(node))


def marked_pods_by_node(client: KubeClient) -> dict[str, list[str]]:
    """node -> namespace/name of the pods still annotated kmesh.net/redirection=enabled."""
    marked: dict[str, list[str]] = {}
    for view in map(PodView.from_k8s, client.list("v1", "Pod")):
        if is_annotated(view):
            marked.setdefault(view.node_name or UNSCHEDULED, []).append(f"{view.namespace}/{view.name}")
    return marked


def node_results(namespace: str, agents: list[AgentPod], marked: dict[str, list[str]]) -> list[DeleteResult]:
    """One result per node: its agent stopped and cleaned up, or what may remain and the fix."""
    results = []
    for agent in agents:
        ref = f"node {agent.node}: agent pod {namespace}/{agent.name}"
        left = marked.get(agent.node, []) if agent.scheduled else []
        if not agent.scheduled:  # a pod no node took never ran: it left nothing anywhere
            results.append(DeleteResult(ref, "stopped", NEVER_SCHEDULED))
        elif left:
            detail = (f"pods still marked {REDIRECTION_ANNOTATION} ({', '.join(left[:5])}): the agent did not "
                      f"remove the node's data path; {NODE_CLEANUP_FIX}, then "
                      + " and ".join(f"`{command}`" for command in unmark_commands(left[:5])))
            results.append(DeleteResult(ref, "needs cleanup", detail))
        elif not agent.running:
            detail = (f"was not running ({agent.state}), so it could not clean up after an earlier agent; "
                      f"if one ran there, {NODE_CLEANUP_FIX}")
            results.append(DeleteResult(ref, "needs cleanup", detail))
        else:
            results.append(DeleteResult(ref, "stopped", "data path removed"))
    return results


def unmark_commands(pods: list[str]) -> list[str]:
    """One `kubectl annotate pod -n NS POD... kmesh.net/redirection-` per namespace of
    ``pods`` (namespace/name), each a command that works when pasted."""
    by_namespace: dict[str, list[str]] = {}
    for ref in pods:
        namespace, _, name = ref.partition("/")
        by_namespace.setdefault(namespace, []).append(name)
    return [f"kubectl annotate pod -n {namespace} {' '.join(names)} {REDIRECTION_ANNOTATION}-"
            for namespace, names in by_namespace.items()]


def wait_gone(client: KubeClient, obj: dict, deadline: float, poll: float = 0.5, timeout: float = 0,
              on_wait: Callable[[str], None] = lambda line: None) -> None:
    """Until ``obj`` is gone; past ``deadline`` an error naming the --timeout (``timeout``
    seconds) and the kubectl command that shows what holds it. Once it has not gone
    within WAITING_NOTE_AFTER_S, ``on_wait`` gets one line saying what it waits for."""
    meta = obj["metadata"]
    started, noted = time.monotonic(), False
    while (current := client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))) is not None:
        if time.monotonic() >= deadline:
            limit = f"the --timeout {duration_words(timeout)} limit" if timeout else "the time limit"
            raise KmeshctlError(
                f"{object_ref(obj)} still exists after {limit} ({_holding(current)})",
                fix=f"check what holds it with `kubectl {finalizers_args(obj)}`, then re-run "
                    "`kmeshctl uninstall` (it is safe to repeat), with a longer --timeout if it was only slow")
        if not noted and time.monotonic() - started >= WAITING_NOTE_AFTER_S:
            noted = True
            limit = f"limit {duration_words(timeout)}" if timeout else "no limit"
            on_wait(f"waiting for {object_ref(obj)} to go ({_holding(current)}), {limit}")
        time.sleep(poll)


def _holding(current: dict) -> str:
    """`finalizers: a, b`, or what else may hold an object being deleted."""
    finalizers = current["metadata"].get("finalizers") or []
    return f"finalizers: {', '.join(finalizers)}" if finalizers else "no finalizer: pods or dependents still stopping?"


def finalizers_args(obj: dict) -> str:
    """`get serviceaccount kmesh -n kmesh-system -o jsonpath='{.metadata.finalizers}'`:
    kubectl's words that show what holds ``obj``."""
    group = obj["apiVersion"].rpartition("/")[0]
    resource = obj["kind"].lower() + (f".{group}" if group and "." in group else "")
    namespace = obj["metadata"].get("namespace")
    return (f"get {resource} {obj['metadata']['name']}" + (f" -n {namespace}" if namespace else "")
            + " -o jsonpath='{.metadata.finalizers}'")


def uninstall(
    client: KubeClient,
    objs: list[dict],
    timeout: float,
    on_result: Callable[[DeleteResult], None] = lambda r: None,
    on_sent: Callable[[str], None] = lambda ref: None,
    on_wait: Callable[[str], None] = lambda line: None,
) -> list[DeleteResult]:
    """Delete `objs` in reverse order, each gone before the next; all within `timeout` seconds.
    ``on_sent``: an object's delete was accepted (it is awaited next); ``on_wait``: the
    line of an object slow to go (wait_gone)."""
    deadline = time.monotonic() + timeout  # math.inf: no limit
    results = []
    for obj in reversed(objs):
        ours = obj["kind"] == "DaemonSet" and deletable(client, obj)[0] is not None
        pods = agent_pods(client, obj) if ours and client.is_served("v1", "Pod") else []
        result = delete_one(client, obj)
        if result.outcome == "deleted":
            on_sent(result.ref)
            wait_gone(client, obj, deadline, timeout=timeout, on_wait=on_wait)
        on_result(result)
        results.append(result)
        if result.outcome == "deleted" and pods:
            for node_result in node_results(obj["metadata"]["namespace"], pods, marked_pods_by_node(client)):
                on_result(node_result)
                results.append(node_result)
    return results


def dry_run(
    client: Optional[KubeClient],
    objs: list[dict],
    on_result: Callable[[DeleteResult], None] = lambda r: None,
) -> list[DeleteResult]:
    """What `uninstall` would delete, in its order, nothing deleted: each delete sent with
    dryRun=All (the API server answers for what exists, admission and RBAC); with no
    ``client`` (no cluster configured) every object, unchecked."""
    results = []
    for obj in reversed(objs):
        result = (DeleteResult(object_ref(obj), "would be deleted", UNCHECKED) if client is None
                  else delete_one(client, obj, dry_run=True))
        on_result(result)
        results.append(result)
    return results


def stopped_text(how: str, objs: list[dict], results: list[DeleteResult], sent: list[str], dry_run: bool) -> str:
    """The one line of an uninstall a signal stopped: what was deleted, what was being
    deleted (the API server finishes that one), and what was not."""
    if dry_run:
        return f"uninstall --dry-run stopped by {how}; nothing was deleted"
    done = [r.ref for r in results if r.outcome == "deleted"]
    handled = {r.ref for r in results}
    going = [ref for ref in sent if ref not in handled]
    left = [ref for ref in map(object_ref, reversed(objs)) if ref not in handled and ref not in going]
    parts = [f"deleted {', '.join(done)}" if done else "nothing deleted yet"]
    if going:
        parts.append(f"{', '.join(going)} being deleted (the cluster finishes it)")
    if left:
        parts.append(f"not deleted: {', '.join(left)}")
    return f"uninstall stopped by {how}: " + "; ".join(parts)
