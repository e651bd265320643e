"""Removing what `install` created: delete in reverse apply order, waiting for each object
to be gone before the next (the EnvoyFilters first, the namespace last), idempotently.

The DaemonSet goes with foreground propagation, so it is gone only once every node agent
pod has finished: each agent sees its DaemonSet being deleted at SIGTERM and removes its
node's data path and annotations (kmeshctl.lifecycle) while its ServiceAccount and RBAC
still exist. Each node's agent pod is reported, and a node where the data path may remain
(its agent never ran, or pods there still carry the annotation an agent sets) is named
with the command that removes it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Literal, Optional, Sequence

from kmeshctl.enrollment import REDIRECTION_ANNOTATION, PodView, is_annotated
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.asciinum import duration_words, limit_words
from kmeshctl.kube import ApiError, KubeClient, ResourceKind, object_ref
from kmeshctl.namespaces import agent_namespaces
from kmeshctl.params import (NAMESPACE_CHECK_PAGE, NAMESPACE_KEPT_NAMES, NAMESPACE_KEPT_NAMES_PER_KIND,
                             PLACEHOLDER_XDS_ADDRESS, WAITING_NOTE_AFTER_S, InstallParams)
from kmeshctl.render import MANAGED_BY_LABEL, NOT_OURS, made_by_kmeshctl, render_manifests
from kmeshctl.waypoint.deploy import WAYPOINT_LABEL


Outcome = Literal["deleted", "would be deleted", "not found", "kind not served", "stopped", "needs cleanup",
                  "left alone", "kept"]
ABSENT: tuple[Outcome, ...] = ("not found", "kind not served")
# Not deleted: an object of one of kmeshctl's names it did not make, or its namespace holding the user's objects
SPARED: tuple[Outcome, ...] = ("left alone", "kept")
# Before the namespace kmeshctl made goes, every namespaced kind the cluster serves that can be
# listed is looked through (discovery, not a fixed list: a PVC, a Role, a CronJob, an Istio route,
# a waypoint are the user's too); a namespace holding anything install did not make is kept.
# Kinds the cluster itself writes into every namespace (events, endpoints), and metrics.k8s.io,
# which stores nothing (its objects mirror the pods listed anyway), are not looked through.
CLUSTER_KINDS = (("", "events"), ("events.k8s.io", "events"), ("", "endpoints"), ("discovery.k8s.io", "endpointslices"))
DERIVED_GROUPS = ("metrics.k8s.io",)
# What the cluster (and istiod's namespace controller: the root cert and its CRL) put in every
# namespace: not the user's
CLUSTER_CONFIGMAPS = ("kube-root-ca.crt", "istio-ca-root-cert", "istio-ca-crl")
CLUSTER_SERVICE_ACCOUNT = "default"
TOKEN_SECRET = "kubernetes.io/service-account-token"
# A list answered so is a kind that could not be looked through (the namespace is then kept):
# not allowed (401/403), not there (404: an API gone or not routed), no list (405), API down (503)
UNLISTABLE = (401, 403, 404, 405, 503)
# DeleteResult.reason: why an object was spared
NOT_OURS_REASON = "not-ours"
USER_OBJECTS_REASON = "holds-user-objects"
UNCHECKED = "not checked: no cluster configured"
UNSCHEDULED = "(unscheduled)"  # the node of a pod no node took
NEVER_SCHEDULED = "never scheduled: it ran on no node, so left nothing to clean up"
NODE_CLEANUP_FIX = "run `kmeshctl node cleanup` on the node (as root)"
POD_CHECK_FAILED = (f"could not check pods (this user may not list pods in every namespace), so pods still marked "
                    f"{REDIRECTION_ANNOTATION} may remain")
# Only the names of the rendered objects matter here; this value never reaches the cluster.
_PLACEHOLDER_CLUSTER = "uninstall"
_PLACEHOLDER_ISTIO = "uninstall-istio"  # deletable's default objs: only those in the install's namespace count


@dataclass(frozen=True)
class DeleteResult:
    ref: str
    outcome: Outcome
    detail: str = ""
    reason: str = ""  # why spared: NOT_OURS_REASON or USER_OBJECTS_REASON ("" otherwise)

    @property
    def text(self) -> str:
        """The result's line: `ClusterRole kmesh: not made by kmeshctl, left alone`,
        `Namespace x kept: it holds ...`, else `REF OUTCOME (DETAIL)`."""
        if self.outcome in SPARED and self.reason == NOT_OURS_REASON:
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


def _managed(client: KubeClient, obj: dict) -> list[dict]:
    """The objects of ``obj``'s kind in every namespace with its app / managed-by labels."""
    if not client.is_served(obj["apiVersion"], obj["kind"]):
        return []
    selector = ",".join(f"{k}={v}" for k, v in obj["metadata"]["labels"].items()
                        if k in ("app", MANAGED_BY_LABEL[0]))
    return client.list(obj["apiVersion"], obj["kind"], label_selector=selector)


def _readable(read: Callable[[], Any]) -> Any:
    """``read()``, or None when this user may not (the deletes or applies themselves
    then say what this user may do)."""
    try:
        return read()
    except ApiError as err:
        if err.status not in (401, 403, 404):
            raise
        return None


Checked = tuple[Optional[dict], Optional[DeleteResult]]  # what deletable answered


def delete_one(client: KubeClient, obj: dict, dry_run: bool = False, objs: Sequence[dict] = (),
               checked: Optional[Checked] = None) -> DeleteResult:
    """Delete ``obj`` when it is kmeshctl's (else the result of deletable saying why not;
    ``checked``: its answer already read, so the object is read and decided on once);
    ``objs``: install's objects (deletable); ``dry_run``: the API server checks the delete
    (dryRun=All), nothing goes."""
    current, spared = checked or deletable(client, obj, objs)
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


def deletable(client: KubeClient, obj: dict, objs: Sequence[dict] = ()) -> Checked:
    """(``obj`` as the cluster has it, None) when uninstall may delete it: it exists and
    kmeshctl made it, and, a namespace, holds nothing but what install made (``objs``,
    its objects; by default those install makes for that namespace); else (None, the
    result saying why not: absent, not kmeshctl's, or kept for the user's objects)."""
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
        return None, DeleteResult(ref, "kept" if obj["kind"] == "Namespace" else "left alone", NOT_OURS,
                                  NOT_OURS_REASON)
    if obj["kind"] == "Namespace":
        held = user_objects(client, meta["name"], objs or installed_objects(meta["name"], _PLACEHOLDER_ISTIO))
        if held:
            return None, DeleteResult(ref, "kept", held, USER_OBJECTS_REASON)
    return current, None


def user_objects(client: KubeClient, namespace: str, objs: Sequence[dict]) -> str:
    """`it holds PersistentVolumeClaim data, Role reader, ... (not made by kmeshctl install)`:
    what ``namespace`` holds of every namespaced kind the cluster serves and lists, but
    install's own objects (``objs``) and their dependents, and what the cluster puts in
    every namespace; then `could not check KINDS` for the kinds whose list failed (not
    allowed, not there, API down): the namespace is kept for those too. Empty: only
    install's objects are there, it may go."""
    kinds, failed = client.served_kinds()
    ours = {(o["kind"], o["metadata"]["name"]) for o in objs if o["metadata"].get("namespace") == namespace}
    found: list[tuple[bool, str]] = []  # (a dependent of another object, `Kind name`)
    unchecked = [gv for gv in failed if gv.rpartition("/")[0] not in DERIVED_GROUPS]
    for kind in filter(_looked_through, kinds):
        try:
            held = _users_of_kind(client, kind, namespace, ours)
        except ApiError as err:
            if err.status not in UNLISTABLE:
                raise
            held = None
        if held is None:
            unchecked.append(kind.kind)
        found += held or []
    return _held_text([name for _, name in sorted(found, key=lambda f: f[0])], unchecked)


def _looked_through(kind: ResourceKind) -> bool:
    """A namespaced kind that can be listed, and not one the cluster writes into every
    namespace (CLUSTER_KINDS) or that stores nothing (DERIVED_GROUPS)."""
    return (kind.namespaced and "list" in kind.verbs and (kind.group, kind.plural) not in CLUSTER_KINDS
            and kind.group not in DERIVED_GROUPS)


def _users_of_kind(client: KubeClient, kind: ResourceKind, namespace: str,
                   ours: set[tuple[str, str]]) -> Optional[list[tuple[bool, str]]]:
    """The first few objects of ``kind`` in ``namespace`` install did not make, a page of
    NAMESPACE_CHECK_PAGE at a time until enough are found (install's and the cluster's
    are skipped, so one page may hold none of the user's); None when the list answered 404."""
    query = {"limit": str(NAMESPACE_CHECK_PAGE)}
    found: list[tuple[bool, str]] = []
    while True:
        page = client.request("GET", kind.collection_path(namespace), query)
        if page is None:
            return None
        found += [(bool(o["metadata"].get("ownerReferences")), f"{kind.kind} {o['metadata']['name']}")
                  for o in page.get("items") or [] if not _not_the_users(kind, o, ours)]
        more = (page.get("metadata") or {}).get("continue")
        if len(found) >= NAMESPACE_KEPT_NAMES_PER_KIND or not more:
            return found[:NAMESPACE_KEPT_NAMES_PER_KIND]
        query = {"limit": str(NAMESPACE_CHECK_PAGE), "continue": more}


def _not_the_users(kind: ResourceKind, obj: dict, ours: set[tuple[str, str]]) -> bool:
    """One of install's objects (``ours``: kind and name, with kmeshctl's label and no
    waypoint's: `kmeshctl waypoint apply` objects are the user's), a dependent of one
    (the agent DaemonSet's pods and revisions), or what the cluster and istiod put in
    every namespace (the CA ConfigMaps, the `default` ServiceAccount, token Secrets)."""
    meta, core = obj["metadata"], kind.group == ""
    labels = meta.get("labels") or {}
    if made_by_kmeshctl(obj) and WAYPOINT_LABEL not in labels and (kind.kind, meta["name"]) in ours:
        return True
    if any((o.get("kind"), o.get("name")) in ours for o in meta.get("ownerReferences") or []):
        return True
    if core and kind.plural == "configmaps":
        return meta["name"] in CLUSTER_CONFIGMAPS
    if core and kind.plural == "serviceaccounts":
        return meta["name"] == CLUSTER_SERVICE_ACCOUNT
    if core and kind.plural == "secrets":
        return obj.get("type") == TOKEN_SECRET
    return False


def _held_text(found: list[str], unchecked: list[str]) -> str:
    """The reason a namespace is kept: what it holds (a few named) and what could not be
    looked through; empty when neither."""
    parts = []
    if found:
        more = ", ..." if len(found) > NAMESPACE_KEPT_NAMES else ""
        parts.append(f"it holds {', '.join(found[:NAMESPACE_KEPT_NAMES])}{more} (not made by kmeshctl install)")
    if unchecked:
        parts.append(f"could not check {', '.join(unchecked)} (not listable by this user, or its API is down), "
                     "so it may hold objects install did not make")
    return "; ".join(parts)


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
            limit = f"the --timeout {duration_words(timeout)} limit" if 0 < timeout < math.inf else "the time limit"
            raise KmeshctlError(
                f"{object_ref(obj)} still exists after {limit} ({_holding(current)})",
                fix=f"{_holding_check(obj, current)}, then re-run `kmeshctl uninstall` (it is safe to repeat), "
                    "with a longer --timeout if it was only slow")
        if not noted and time.monotonic() - started >= WAITING_NOTE_AFTER_S:
            noted = True
            limit = limit_words(timeout)
            on_wait(f"waiting for {object_ref(obj)} to go ({_holding(current)}), {limit}")
        time.sleep(poll)


def _holding(current: dict) -> str:
    """`finalizers: a, b`, or what else may hold an object being deleted."""
    finalizers = current["metadata"].get("finalizers") or []
    return f"finalizers: {', '.join(finalizers)}" if finalizers else "no finalizer: pods or dependents still stopping?"


def _holding_check(obj: dict, current: dict) -> str:
    """The kubectl check that agrees with _holding: the finalizers when it has some; with
    none, what it still waits for (its events and conditions: the pods or contents going)."""
    if current["metadata"].get("finalizers"):
        return f"check what holds it with `kubectl {finalizers_args(obj)}`"
    return f"see what it still waits for with `kubectl {describe_args(obj)}`"


def finalizers_args(obj: dict) -> str:
    """`get serviceaccount kmesh -n kmesh-system -o jsonpath='{.metadata.finalizers}'`:
    kubectl's words that show what holds ``obj``."""
    return f"get {_kubectl_object(obj)} -o jsonpath='{{.metadata.finalizers}}'"


def describe_args(obj: dict) -> str:
    """`describe daemonset.apps kmesh -n kmesh-system`: kubectl's words for what ``obj``
    waits for (its events, a namespace's conditions)."""
    return f"describe {_kubectl_object(obj)}"


def _kubectl_object(obj: dict) -> str:
    """`envoyfilter.networking.istio.io skip-tunneling -n istio-system`: ``obj`` as kubectl
    names it (the group with the kind where the short kind could be another API's)."""
    group = obj["apiVersion"].rpartition("/")[0]
    resource = obj["kind"].lower() + (f".{group}" if group and "." in group else "")
    namespace = obj["metadata"].get("namespace")
    return f"{resource} {obj['metadata']['name']}" + (f" -n {namespace}" if namespace else "")


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
        checked = deletable(client, obj, objs)
        ours = obj["kind"] == "DaemonSet" and checked[0] is not None
        pods = agent_pods(client, obj) if ours and client.is_served("v1", "Pod") else []
        result = delete_one(client, obj, objs=objs, checked=checked)
        if result.outcome == "deleted":
            on_sent(result.ref)
            wait_gone(client, obj, deadline, timeout=timeout, on_wait=on_wait)
        on_result(result)
        results.append(result)
        if result.outcome == "deleted" and pods:
            for node_result in _node_results(client, obj["metadata"]["namespace"], pods):
                on_result(node_result)
                results.append(node_result)
    return results


def _node_results(client: KubeClient, namespace: str, pods: list[AgentPod]) -> list[DeleteResult]:
    """node_results after the DaemonSet went; when this user may not list every pod (to
    find those still marked), one result per node saying it could not be checked, and
    uninstall goes on (its ServiceAccount, RBAC and namespace still to remove)."""
    marked = _readable(lambda: marked_pods_by_node(client))
    results = node_results(namespace, pods, marked or {})
    if marked is not None:
        return results
    return [r if r.detail == NEVER_SCHEDULED else replace(r, detail=f"{r.detail}; {POD_CHECK_FAILED}")
            for r in results]


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
                  else delete_one(client, obj, dry_run=True, objs=objs))
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
