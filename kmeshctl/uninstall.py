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
import shlex
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Collection, Literal, Mapping, Optional, Sequence

from kmeshctl.enrollment import (ENROLLED_BY_ANNOTATION, REDIRECTION_ANNOTATION, REDIRECTION_ENABLED, PodView,
                                 is_annotated)
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.asciinum import duration_words, limit_words
from kmeshctl.kube import (FIELD_MANAGER, MERGE_PATCH, ApiError, ApiUnreachable, KubeClient, ResourceKind, object_ref,
                           request_timeout_text)
from kmeshctl.namespaces import agent_namespaces
from kmeshctl.params import (NAMESPACE_CHECK_PAGE, NAMESPACE_KEPT_NAMES, NAMESPACE_KEPT_NAMES_PER_KIND,
                             PLACEHOLDER_XDS_ADDRESS, UNINSTALL_POLL_S, WAITING_NOTE_AFTER_S, InstallParams)
# as many reads of an object replaced between its read and its DELETE as `waypoint delete` makes
from kmeshctl.params import WAYPOINT_DELETE_ATTEMPTS as DELETE_ATTEMPTS
from kmeshctl.render import (MANAGED_BY_LABEL, MANAGED_BY_SELECTOR, NOT_OURS, left_out_at, made_by_kmeshctl,
                             render_manifests)
from kmeshctl.waypoint.deploy import (GATEWAY_API, UNANSWERED, WAYPOINT_LABEL, DeleteUnanswered, ReplacedMeanwhile,
                                      made_by_waypoint_apply)
from kmeshctl import waits


Outcome = Literal["deleted", "would be deleted", "not found", "kind not served", "stopped", "needs cleanup",
                  "left alone", "kept", "warning", "being deleted"]
# Already being deleted when read (another or an earlier uninstall's DELETE took it): waited for, not counted
BEING_DELETED: Outcome = "being deleted"
ABSENT: tuple[Outcome, ...] = ("not found", "kind not served", BEING_DELETED)
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
# not allowed (401/403), no list (405), too many requests (429), and any 5xx (_unlistable: its
# API down, a CRD's conversion webhook failing, a gateway timeout). A 404 (an API gone) is no
# error: KubeClient.request answers None, and _users_of_kind says so.
UNLISTABLE = (401, 403, 405, 429)
# first_user_objects' kinds: where the user's objects nearly always are, discovered by any caller already
QUICK_LOOK_API_VERSIONS = ("v1", "apps/v1")
# DeleteResult.reason: why an object was spared
NOT_OURS_REASON = "not-ours"
USER_OBJECTS_REASON = "holds-user-objects"  # found some: it is the user's namespace now (release_namespace)
MAY_HOLD_REASON = "may-hold-user-objects"  # some kinds could not be looked through: a re-run may delete it
# Install's labels whatever their value: the version of the kmeshctl that made the namespace
VERSION_LABEL = "app.kubernetes.io/version"
LABELS_REMOVED = "the Pod Security labels install added removed"
LABELS_LEFT = "the Pod Security labels install added are still on it"
# --dry-run's words for the same: what the real run would do to a namespace it keeps
LABELS_WOULD_GO = "the Pod Security labels install added would be removed"
LABELS_WOULD_STAY = "the Pod Security labels install added would stay on it"
# Only these go from a kept namespace: its ownership labels stay, so that uninstall deletes it
# once the user's objects are gone, and install takes it back as its own.
POD_SECURITY_PREFIX = "pod-security.kubernetes.io/"
LATE_REASON = "not-checked-in-time"  # the --timeout came before what a namespace holds was all looked through
UNLISTED_WHY = "not listable by this user, or their API is down or failing"
UNDISCOVERED_WHY = "their API is down, or answered no resource list"
MAY_HOLD = "so it may hold objects install did not make"
UNCHECKED = "not checked: no cluster configured"
UNSCHEDULED = "(unscheduled)"  # the node of a pod no node took
NEVER_SCHEDULED = "never scheduled: it ran on no node, so left nothing to clean up"
# Whether an agent left anything is never known from the API (pods marked, the data path maybe gone):
# each line must work on a clean node too (--ignore-not-found: exit 0 when nothing is there)
NODE_CLEANUP_FIX = "run `kmeshctl node cleanup --ignore-not-found` on the node (as root)"
MAYBE_CLEANUP_FIX = "run `kmeshctl node cleanup --ignore-not-found` on the node (as root; exit 0 when nothing is there)"
# A node result of pods still marked where no agent pod was reported (an earlier uninstall
# cut after the DaemonSet went, its agent killed before its stop ran): said, exit unchanged
LEFT_MARKED: Outcome = "warning"
MARK = f"{REDIRECTION_ANNOTATION}={REDIRECTION_ENABLED}"
# An agent pod already Succeeded when uninstall looked (an earlier uninstall, cut by its
# --timeout, deleted the DaemonSet): the agent exited 0 after its stop, and no pod is marked.
EXITED_CLEAN = "the agent had already stopped (exit 0) and no pod on the node is still marked"
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
    reason: str = ""  # why spared: one of the *_REASON ("" otherwise)
    labels_removed: tuple[str, ...] = ()  # a namespace kept: the label keys install added, now removed

    @property
    def text(self) -> str:
        """The result's line: `ClusterRole kmesh: not made by kmeshctl, left alone`,
        `Namespace x kept: it holds ...`, else `REF OUTCOME (DETAIL)`."""
        if self.outcome in SPARED and self.reason == NOT_OURS_REASON:
            return f"{self.ref}: {NOT_OURS}, {self.outcome}"
        if self.outcome == "kept":
            return f"{self.ref} kept: {self.detail}"
        return f"{self.ref} {self.outcome}" + (f" ({self.detail})" if self.detail else "")


# A DaemonSet's first pods are made within seconds of its template; one made later than this
# may replace an agent that ran on its node.
FIRST_POD_WINDOW_S = 60


@dataclass(frozen=True)
class AgentPod:
    node: str
    name: str
    running: bool  # every container runs and has started (_started): it can clean its node at SIGTERM
    state: str  # phase or waiting reason when not running
    scheduled: bool = True  # False: never bound to a node, so it never ran anywhere
    # its container never started and it is its node's first agent pod (_first_of_template): no agent ran there
    never_ran: bool = False
    terminating: bool = False  # it carries a deletionTimestamp
    # being deleted while its DaemonSet stayed (`kubectl delete pod`, a drain): it kept the node's data
    # path for the pod its DaemonSet makes in its place (kmeshctl.node.lifecycle), so it removed nothing
    deleted_before: bool = False
    # made in place of an agent pod that ran on its node (await_replacements saw that one go): that one kept
    # the node's data path for it, so this one not running as the DaemonSet goes leaves it there
    replaced: bool = False


def installed_objects(namespace: str, istio_namespace: str) -> list[dict]:
    """The objects install creates for these namespaces, in apply order (names and kinds are
    what matter; they do not depend on the other install parameters)."""
    params = InstallParams(PLACEHOLDER_XDS_ADDRESS, _PLACEHOLDER_CLUSTER, namespace=namespace,
                           istio_namespace=istio_namespace)
    return render_manifests(params)


def made_here(client: KubeClient, objs: list[dict]) -> list[dict]:
    """``objs`` less those install never makes on this cluster: the pod-patch policy and its
    binding (render.left_out_at) when it does not serve their kind (before 1.30, or the API
    turned off: install leaves them out or is refused). Nothing of theirs to look for, so
    uninstall neither lists them nor says `kind not served`."""
    from kmeshctl.apply import POLICY_LESS_VERSION

    policy = left_out_at(POLICY_LESS_VERSION)
    return [obj for obj in objs if f"{obj['kind']} {obj['metadata']['name']}" not in policy
            or client.is_served(obj["apiVersion"], obj["kind"])]


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


def kept_waypoints(client: KubeClient) -> list[tuple[str, str]]:
    """(namespace, name) of each waypoint `kmeshctl waypoint apply` made (its Gateway
    carries kmeshctl's labels naming it), sorted; [] when the cluster does not serve
    Gateway. Uninstall leaves them, as istioctl's uninstall leaves the waypoints users
    made: they are the user's, and route their Services. ApiError / ApiUnreachable when
    the Gateways cannot be listed."""
    if not client.is_served(GATEWAY_API, "Gateway"):
        return []
    gateways = client.list(GATEWAY_API, "Gateway", None, f"{MANAGED_BY_SELECTOR},{WAYPOINT_LABEL}")
    return sorted((g["metadata"]["namespace"], g["metadata"]["name"]) for g in gateways
                  if made_by_waypoint_apply(g, g["metadata"]["name"]))


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
               checked: Optional[Checked] = None,
               on_sending: Callable[[str], None] = lambda ref: None,
               deadline: float = math.inf, timeout: float = 0) -> DeleteResult:
    """Delete ``obj`` when it is kmeshctl's (else the result of deletable saying why not;
    ``checked``: its answer already read, so the object is read and decided on once);
    ``objs``: install's objects (deletable); ``dry_run``: the API server checks the delete
    (dryRun=All), nothing goes. ``on_sending``: its ref just before the (real) DELETE is
    sent, so a stop before the answer is read still knows the delete may have gone.
    One replaced between its read and its DELETE (409) is read and decided on again
    (``deadline``, ``timeout``: deletable's), up to DELETE_ATTEMPTS times, then
    ReplacedMeanwhile; a DELETE sent and not answered is DeleteUnanswered."""
    for _ in range(DELETE_ATTEMPTS):
        current, spared = checked or deletable(client, obj, objs, deadline, timeout, dry_run)
        if current is None:
            assert spared is not None
            return spared
        try:
            return _delete_as_read(client, obj, current, dry_run, on_sending)
        except ApiError as err:
            if err.status != 409:  # 409: replaced since it was read (it may not be kmeshctl's now)
                raise
        checked = None
    raise replaced_error(obj)


def _delete_as_read(client: KubeClient, obj: dict, current: dict, dry_run: bool,
                    on_sending: Callable[[str], None]) -> DeleteResult:
    """Delete ``obj`` only as ``current`` (read as kmeshctl's): its uid as precondition, so
    one made meanwhile under that name is another object (409)."""
    meta, uid = obj["metadata"], current["metadata"].get("uid")
    propagation = "Foreground" if obj["kind"] == "DaemonSet" else "Background"
    if not dry_run and current["metadata"].get("deletionTimestamp"):  # this run's DELETE would remove nothing
        return DeleteResult(object_ref(obj), BEING_DELETED, "by another or an earlier uninstall")
    if not dry_run:
        on_sending(object_ref(obj))
    preconditions = {"uid": uid} if uid else None
    version = current["metadata"].get("resourceVersion")
    if preconditions and version and obj["kind"] == "Namespace":
        # it goes after a while (finalizers): another run's DELETE in between sets deletionTimestamp, so ours is
        # refused (409, read again: being deleted) instead of taking a delete that was not this run's. Not for
        # the DaemonSet: its status changes as its pods do, and each change would refuse the DELETE again.
        preconditions["resourceVersion"] = version
    try:
        deleted = client.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"), propagation,
                                dry_run=dry_run, preconditions=preconditions)
    except ApiUnreachable as err:
        raise DeleteUnanswered(object_ref(obj), err) from err
    done: Outcome = "would be deleted" if dry_run else "deleted"
    return DeleteResult(object_ref(obj), done if deleted else "not found")


def replaced_error(obj: dict) -> ReplacedMeanwhile:
    """``obj`` replaced (a new uid) each time it was read: the check that shows what writes it."""
    return ReplacedMeanwhile(f"{object_ref(obj)} was replaced each time it was read ({DELETE_ATTEMPTS} times), "
                             "so it was not deleted",
                             fix=f"see what re-creates it with `kubectl {managers_args(obj)}`, stop that, then "
                                 "run uninstall again")


def deletable(client: KubeClient, obj: dict, objs: Sequence[dict] = (), deadline: float = math.inf,
              timeout: float = 0, dry_run: bool = False) -> Checked:
    """(``obj`` as the cluster has it, None) when uninstall may delete it: it exists and
    kmeshctl made it, and, a namespace, holds nothing but what install made (``objs``,
    its objects; by default those install makes for that namespace); else (None, the
    result saying why not: absent, not kmeshctl's, or kept for the user's objects, or
    for what could not be looked through before ``deadline``: --timeout ``timeout``).
    A read refused (401/403) stops the run (``dry_run``: worded for the dry run), its
    pointer kept for the command to replace (cli's _uninstall_refusal)."""
    ref, meta = object_ref(obj), obj["metadata"]
    if not client.is_served(obj["apiVersion"], obj["kind"]):
        return None, DeleteResult(ref, "kind not served")
    try:
        current = client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    except ApiError as err:
        if err.status not in (401, 403):
            raise
        stops = "so the dry run stops here" if dry_run else "so nothing more was deleted"
        raise ApiError(err.status, err.reason, f"cannot tell whether kmeshctl made {ref}, {stops}: {err.problem}",
                       err.causes, fix=err.fix or "grant this user get on it (`kmeshctl precheck --uninstall` lists "
                                                  "what uninstall needs)", see=err.see) from err
    if current is None:
        return None, DeleteResult(ref, "not found")
    if not made_by_kmeshctl(current):
        return None, DeleteResult(ref, "kept" if obj["kind"] == "Namespace" else "left alone", NOT_OURS,
                                  NOT_OURS_REASON)
    if obj["kind"] == "Namespace":
        held = user_objects(client, meta["name"], objs or installed_objects(meta["name"], _PLACEHOLDER_ISTIO),
                            deadline)
        reason = held.text(timeout)
        if reason:
            why = LATE_REASON if held.late else USER_OBJECTS_REASON if held.found else MAY_HOLD_REASON
            return None, DeleteResult(ref, "kept", reason, why)
    return current, None


def release_namespace(client: KubeClient, obj: dict, result: DeleteResult, dry_run: bool = False) -> DeleteResult:
    """The namespace ``obj`` (install's), kept for the user's objects: the Pod Security
    labels install put on it removed (install_labels: a privileged level must not stay on a
    namespace of the user's pods; its ownership labels stay), ``result`` saying so;
    or, when they could not be, why and the kubectl command that removes them.
    ``dry_run``: the same patch sent with dryRun=All (the API server answers as for the
    deletes), nothing changed, ``result`` saying what the real run would do."""
    name = obj["metadata"]["name"]
    keys: list[str] = []
    try:
        current = client.get("v1", "Namespace", name)
        keys = install_labels(obj, current)
        if not keys or current is None:
            return result
        version = current["metadata"].get("resourceVersion")  # as read: one changed meanwhile answers 409
        _merge_patch(client, name, {"metadata": {
            "labels": dict.fromkeys(keys), **({"resourceVersion": version} if version else {})}}, dry_run)
    except (ApiError, ApiUnreachable) as err:
        if not keys:
            return result
        fix = f"kubectl label namespace {name} {' '.join(k + '-' for k in keys)}"
        left = LABELS_WOULD_STAY if dry_run else LABELS_LEFT
        return replace(result, detail=f"{result.detail}; {left} ({err.problem}): remove them with `{fix}`")
    said = (f"{LABELS_WOULD_GO} ({', '.join(keys)}): no privileged level would stay on your pods" if dry_run else
            f"{LABELS_REMOVED} ({', '.join(keys)}): no privileged level stays on your pods")
    return replace(result, detail=f"{result.detail}; {said}; uninstall again deletes it once they are gone",
                   labels_removed=tuple(keys))


def _merge_patch(client: KubeClient, name: str, patch: dict, dry_run: bool) -> None:
    """Merge-patch Namespace ``name``; ``dry_run``: with dryRun=All (KubeClient.merge_patch's
    request plus that query), so nothing changes."""
    if not dry_run:
        client.merge_patch("v1", "Namespace", name, patch)
        return
    path = client.kind("v1", "Namespace").object_path(name, None)
    client.request("PATCH", path, {"fieldManager": FIELD_MANAGER, "dryRun": "All"}, patch, MERGE_PATCH)


def install_labels(obj: dict, current: Optional[dict]) -> list[str]:
    """The keys of the Pod Security labels of ``current`` (a namespace as read) that install
    put there: those ``obj`` (as install renders it) has with the same value; none unless
    kmeshctl made it. A label the user added or changed is not listed."""
    if not made_by_kmeshctl(current):
        return []
    assert current is not None
    labels = current["metadata"].get("labels") or {}
    return [k for k, v in (obj["metadata"].get("labels") or {}).items()
            if k.startswith(POD_SECURITY_PREFIX) and labels.get(k) == v]


@dataclass(frozen=True)
class Held:
    """What a namespace was found to hold (user_objects), and what could not be looked through."""

    found: list[str]  # `Kind name` of the user's objects, dependents last
    unlisted: list[str]  # kinds whose list failed
    undiscovered: list[str]  # group versions whose kinds could not be discovered
    late_kinds: list[str] = field(default_factory=list)  # kinds not listed before the deadline
    late_groups: list[str] = field(default_factory=list)  # API groups not discovered before it

    @property
    def late(self) -> bool:
        return bool(self.late_kinds or self.late_groups)

    def text(self, timeout: float = 0) -> str:
        """`it holds PersistentVolumeClaim data, Role reader, ... (not made by kmeshctl
        install)`, then what could not be checked and why; empty: only install's objects
        are there, it may go."""
        parts = []
        if self.found:  # a few of each kind: how many in all is not known
            more = ", ..." if len(self.found) > NAMESPACE_KEPT_NAMES else ""
            named = ", ".join(self.found[:NAMESPACE_KEPT_NAMES])
            parts.append(f"it holds {named}{more} (not made by kmeshctl install)")
        if self.unlisted:
            parts.append(f"could not list its {_few(self.unlisted)} objects ({UNLISTED_WHY})")
        if self.undiscovered:
            parts.append(f"could not learn the kinds served at {_few(self.undiscovered)} ({UNDISCOVERED_WHY})")
        if self.late:
            what = [f"its {_few(self.late_kinds)} objects" if self.late_kinds else "",
                    f"the kinds of API groups {_few(self.late_groups)}" if self.late_groups else ""]
            parts.append(f"could not check within {limit_text(timeout)} {', nor '.join(filter(None, what))}")
        if len(parts) > bool(self.found):
            parts[-1] += f", {MAY_HOLD}"
        return "; ".join(parts)


def _few(names: list[str]) -> str:
    """`a, b, c`, or the first NAMESPACE_KEPT_NAMES of them and `... (N in all)`."""
    if len(names) <= NAMESPACE_KEPT_NAMES:
        return ", ".join(names)
    return f"{', '.join(names[:NAMESPACE_KEPT_NAMES])}, ... ({len(names)} in all)"


def user_objects(client: KubeClient, namespace: str, objs: Sequence[dict], deadline: float = math.inf) -> Held:
    """What ``namespace`` holds of every namespaced kind the cluster serves and lists,
    but install's own objects (``objs``) and their dependents, and what the cluster puts
    in every namespace; and the kinds whose list failed, the group versions whose
    discovery failed (served_kinds), and what was not looked through before ``deadline``
    (time.monotonic(); each request is cut there too): the namespace is kept for those.

    A kind created in the namespace after this looked through it and before its delete
    is not seen: docs/usage.md says so (looking again would take as long again)."""
    with client.within(deadline):
        served = client.served_kinds(deadline)
        ours = _ours_in(namespace, objs)
        found: list[tuple[bool, str]] = []  # (a dependent of another object, `Kind name`)
        unlisted: list[str] = []
        late: list[str] = []
        for kind in filter(_looked_through, served.kinds):
            if time.monotonic() >= deadline:
                late.append(kind.kind)
                continue
            held = _listed(client, kind, namespace, ours)
            if held is None:
                (late if time.monotonic() >= deadline else unlisted).append(kind.kind)
            found += held or []
    return Held([name for _, name in sorted(found, key=lambda f: f[0])], unlisted, _stored(served.failed), late,
                list(dict.fromkeys(gv.rpartition("/")[0] or "core" for gv in _stored(served.late))))


def first_user_objects(client: KubeClient, namespace: str, objs: Sequence[dict],
                       api_versions: Sequence[str] = QUICK_LOOK_API_VERSIONS) -> list[str]:
    """`Kind name` of the user's objects (as user_objects counts them) of the first kind of
    ``api_versions`` that has any in ``namespace``, dependents last; [] when none of those
    kinds has any (or could be listed): then only user_objects can tell. One list per
    kind, only until one has some, and no discovery but of ``api_versions`` (the core and
    apps kinds every caller has discovered already): enough to know the namespace is kept."""
    ours = _ours_in(namespace, objs)
    for api_version in api_versions:
        for kind in filter(_looked_through, client.resources_of(api_version).values()):
            found = _listed(client, kind, namespace, ours)
            if found:
                return [name for _, name in sorted(found, key=lambda f: f[0])]
    return []


def _ours_in(namespace: str, objs: Sequence[dict]) -> set[tuple[str, str]]:
    """(kind, name) of install's objects (``objs``) in ``namespace``."""
    return {(o["kind"], o["metadata"]["name"]) for o in objs if o["metadata"].get("namespace") == namespace}


def _stored(group_versions: list[str]) -> list[str]:
    """``group_versions`` but those of DERIVED_GROUPS (they store nothing)."""
    return [gv for gv in group_versions if gv.rpartition("/")[0] not in DERIVED_GROUPS]


def _listed(client: KubeClient, kind: ResourceKind, namespace: str,
            ours: set[tuple[str, str]]) -> Optional[list[tuple[bool, str]]]:
    """_users_of_kind, or None when the list could not be read: refused or failed
    (_unlistable), no answer (a slow aggregated API, --request-timeout or the deadline), or
    not a list."""
    try:
        return _users_of_kind(client, kind, namespace, ours)
    except ApiError as err:
        if not _unlistable(err.status):
            raise
    except ApiUnreachable:
        pass
    return None


def _unlistable(status: int) -> bool:
    """A list's answer that leaves one kind not looked through (UNLISTABLE, or any 5xx), not
    an error of the whole uninstall: a kind whose API fails is reported, the namespace kept."""
    return status in UNLISTABLE or 500 <= status <= 599


def _looked_through(kind: ResourceKind) -> bool:
    """A namespaced kind that can be listed, and not one the cluster writes into every
    namespace (CLUSTER_KINDS) or that stores nothing (DERIVED_GROUPS)."""
    return (kind.namespaced and "list" in kind.verbs and (kind.group, kind.plural) not in CLUSTER_KINDS
            and kind.group not in DERIVED_GROUPS)


def _users_of_kind(client: KubeClient, kind: ResourceKind, namespace: str,
                   ours: set[tuple[str, str]]) -> Optional[list[tuple[bool, str]]]:
    """The first few objects of ``kind`` in ``namespace`` install did not make, a page of
    NAMESPACE_CHECK_PAGE at a time until enough are found (install's and the cluster's
    are skipped, so one page may hold none of the user's); None when the list answered 404
    or something that is no list of objects (an aggregated API's own answer)."""
    query = {"limit": str(NAMESPACE_CHECK_PAGE)}
    found: list[tuple[bool, str]] = []
    while True:
        page = client.request("GET", kind.collection_path(namespace), query)
        items = (page.get("items") or []) if isinstance(page, dict) else None
        if not isinstance(items, list) or not all(map(_is_object, items)):
            return None
        found += [(bool(o["metadata"].get("ownerReferences")), f"{kind.kind} {o['metadata']['name']}")
                  for o in items if not _not_the_users(kind, o, ours)]
        meta = page.get("metadata")
        more = meta.get("continue") if isinstance(meta, dict) else None
        if len(found) >= NAMESPACE_KEPT_NAMES_PER_KIND or not more:
            return found[:NAMESPACE_KEPT_NAMES_PER_KIND]
        query = {"limit": str(NAMESPACE_CHECK_PAGE), "continue": more}


def _is_object(item: Any) -> bool:
    """An item of a list answer, as _users_of_kind reads it."""
    return isinstance(item, dict) and isinstance(item.get("metadata"), dict) and \
        isinstance(item["metadata"].get("name"), str)


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


def agent_pods(client: KubeClient, ds: dict) -> list[AgentPod]:
    """The pods the DaemonSet ``ds`` (a rendered object) runs now, one per node."""
    selector = _selector(ds)
    pods = client.list("v1", "Pod", ds["metadata"].get("namespace"), label_selector=selector)
    return _agent_pods_of(pods, _only_template_since(client, ds, selector))


def _selector(ds: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in ds["spec"]["selector"]["matchLabels"].items())


def _agent_pods_of(pods: list[dict], since: Optional[datetime], installed: bool = False,
                   replaced: Collection[str] = ()) -> list[AgentPod]:
    """``pods`` (as listed) as AgentPods, by node; ``installed``: listed while their DaemonSet
    was not being deleted, so one being deleted was deleted_before; ``replaced``: the nodes
    whose agent pod was seen being replaced (its replacement there is AgentPod.replaced)."""
    return sorted((_agent_pod(p, _first_of_template(p, since), installed,
                              (p.get("spec") or {}).get("nodeName") in replaced) for p in pods),
                  key=lambda a: (a.node, a.name))


# -- agent pods being replaced: what uninstall waits for before deleting the DaemonSet -------------

# An agent pod deleted while its DaemonSet stays keeps the node's data path for the pod the DaemonSet
# makes in its place at once (kmeshctl.node.lifecycle); only that one, running when the DaemonSet goes,
# removes it. The predecessor holds the node's bpffs lock (kmeshctl.node.claim) until it exits, so the
# replacement may fail to start and be restarted by its kubelet (after 10s, 20s, 40s) meanwhile.
# A replacement is awaited for this long after it was made (or, not made yet, after its node was seen
# being replaced); one that is not running by then (a mount that fails, a kubelet that does not answer),
# or in a state that does not end by itself (its image, its config), is not: the uninstall goes on and
# the node is reported, as any agent not running.
REPLACEMENT_START_S = 120
# One running whose startup probe has not passed yet (the agent loading its data path) is awaited as
# long as that probe lets it (templates/daemonset.yaml.j2: 60 failures 5s apart).
STARTUP_LIMIT_S = 300
# A pod still there this long past its deletionTimestamp (the end of its grace period) is not being
# stopped by a kubelet (its node down?): not awaited.
STOP_OVERDUE_S = 30
# A replacement's states that do not end by themselves (besides rollout.image_at_fault's).
STUCK_REASONS = frozenset({"CreateContainerConfigError"})


@dataclass(frozen=True)
class Replacing:
    """A node whose agent pod is being replaced: its pods being deleted (``going``), and the
    one made in their place (``pod``, "" none yet) and its kubectl STATUS word (``state``)."""

    node: str
    going: tuple[str, ...]
    pod: str
    state: str
    first: bool = False  # ``pod`` is the node's first agent pod, running, its startup probe not passed yet

    @property
    def text(self) -> str:
        """`node n1's agent pod kmesh-a Terminating, its replacement kmesh-b ContainerCreating`;
        a first pod: `node n1's agent pod kmesh-a starting (Running, not started)`."""
        said = f"node {self.node}'s agent pod"
        if self.first:
            return f"{said} {self.pod} starting ({self.state})"
        if not self.going and not self.pod:
            return f"{said} gone, its replacement not made yet"
        if self.going:
            after = f", its replacement {self.pod} {self.state}" if self.pod else ", its replacement not made yet"
            return f"{said} {', '.join(self.going)} Terminating{after}"
        return f"{said} {self.pod} (a replacement) {self.state}"

    def look(self, namespace: str) -> str:
        """The kubectl line that shows why its replacement (or predecessor) is not done."""
        return shlex.join(["kubectl", "describe", "pod", "-n", namespace, self.pod or self.going[0]])


def replacing(pods: list[dict], since: Optional[datetime], now: datetime,
              replaced: Optional[Mapping[str, datetime]] = None) -> list[Replacing]:
    """The nodes of ``pods`` (a DaemonSet's, as listed while it stays) whose agent pod is
    being replaced, by node: one being deleted and not overdue (STOP_OVERDUE_S past its
    deletionTimestamp), or a replacement that has not started yet (_started) and is still
    starting (_starting). ``since``: when the DaemonSet got its only template (None:
    unknown), for the first pod of a node, which replaces none; ``now``: the time to judge
    by; ``replaced``: node -> when an earlier look saw its agent pod being replaced. Such a
    node stays awaited whatever this list shows (its old pod gone, the new one looking like
    the node's first, or not made yet), until its replacement has started or cannot."""
    from kmeshctl.rollout import pod_state

    replaced = replaced or {}
    by_node: dict[str, list[dict]] = {node: [] for node in replaced}
    for pod in pods:
        node = (pod.get("spec") or {}).get("nodeName")
        if node:
            by_node.setdefault(node, []).append(pod)
    found = []
    for node, held in sorted(by_node.items()):
        going = tuple(sorted(p["metadata"]["name"] for p in held if _stopping(p, now)))
        new = [p for p in held if not (p.get("metadata") or {}).get("deletionTimestamp")]
        up = any(_started(p) for p in new)
        starting = [p for p in new if not _started(p) and _starting(p, since, now, bool(going) or node in replaced)]
        loading = [p for p in new if _loading(p, now)]
        if not held and node in replaced and (now - replaced[node]).total_seconds() < REPLACEMENT_START_S:
            found.append(Replacing(node, (), "", ""))  # the old pod gone, the new one not made yet
        elif going or (starting and not up):
            first = (starting or new or [None])[0]
            found.append(Replacing(node, going, first["metadata"]["name"] if first else "",
                                   pod_state(first).status if first else ""))
        elif loading and not up:
            found.append(Replacing(node, (), loading[0]["metadata"]["name"], NOT_STARTED, first=True))
    return found


def _loading(pod: dict, now: datetime) -> bool:
    """``pod`` (the node's first, or any not awaited as a replacement) runs and its startup
    probe has not passed yet: the agent is loading the node's data path, and killed now it
    could not say whether it left some; once started, the DaemonSet going makes it remove
    it. Awaited as long as its probe lets it (STARTUP_LIMIT_S)."""
    created = _timestamp(pod)
    return _runs(pod) and not _started(pod) and created is not None and \
        (now - created).total_seconds() < STARTUP_LIMIT_S


def _stopping(pod: dict, now: datetime) -> bool:
    """``pod`` is being deleted and its kubelet is still in time to stop it."""
    meta = pod.get("metadata") or {}
    end = _parsed(meta.get("deletionTimestamp"))
    return bool(meta.get("deletionTimestamp")) and (end is None or (now - end).total_seconds() < STOP_OVERDUE_S)


def _starting(pod: dict, since: Optional[datetime], now: datetime, replacing_one: bool) -> bool:
    """``pod`` (not started) may still start by itself and replaces an agent that ran:
    made less than REPLACEMENT_START_S ago (STARTUP_LIMIT_S when it runs: its startup
    probe still going), in no state that does not end by itself; not
    the first pod of its node (_first_of_template), unless a pod being deleted there shows
    it replaces one (``replacing_one``)."""
    from kmeshctl.rollout import image_at_fault, pod_state

    created = _timestamp(pod)
    limit = STARTUP_LIMIT_S if _runs(pod) else REPLACEMENT_START_S
    if created is None or (now - created).total_seconds() >= limit:
        return False
    state = pod_state(pod)
    if image_at_fault(state) or state.status in STUCK_REASONS:
        return False
    return replacing_one or not _first_of_template(pod, since)


def await_replacements(client: KubeClient, ds: dict, deadline: float, poll: float = UNINSTALL_POLL_S,
                       timeout: float = 0, on_wait: Callable[[str], None] = lambda line: None,
                       stopped: Callable[[list[Replacing]], KmeshctlError] = lambda waiting: KmeshctlError("")
                       ) -> tuple[list[AgentPod], dict[str, str]]:
    """The agent pods of the DaemonSet ``ds`` (rendered; not being deleted) once no node's
    agent pod is being replaced (``replacing``), and for each node that was, how (the words
    its result adds). ``on_wait`` gets a line when the wait begins or what it waits for
    changes, and one when it is over; past ``deadline`` (--timeout ``timeout``) it raises
    ``stopped(what it still waits for)``. One list when none is being replaced."""
    meta = ds["metadata"]
    selector, started, said = _selector(ds), time.monotonic(), ""
    since = _only_template_since(client, ds, selector)
    seen: dict[str, Replacing] = {}
    seen_at: dict[str, datetime] = {}  # node -> when first seen being replaced: awaited from then on
    while True:
        pods = client.list("v1", "Pod", meta.get("namespace"), label_selector=selector)
        now = datetime.now(timezone.utc)
        waiting = replacing(pods, since, now, seen_at)
        if not waiting:
            break
        if time.monotonic() >= deadline:
            raise stopped(waiting)
        seen.update({r.node: seen.get(r.node, r) for r in waiting})
        seen_at.update({r.node: seen_at.get(r.node, now) for r in waiting if not r.first})
        text = "; ".join(r.text for r in waiting)
        if text != said:
            said = text
            on_wait(f"waiting for {text}, before deleting {object_ref(ds)}: {_why_awaited(waiting)} "
                    f"({limit_words(timeout)})")
        time.sleep(poll)
    waited = duration_words(round(time.monotonic() - started))
    agents = _agent_pods_of(pods, since, installed=True, replaced=[n for n, r in seen.items() if not r.first])
    if seen:
        said = "; ".join(f"node {node}: {_replacement_now(agents, node, r.first)}" for node, r in seen.items())
        on_wait(f"{said} (waited {waited}); deleting {object_ref(ds)}")
    return agents, {node: _took_over_words(r, waited) for node, r in seen.items()}


def _why_awaited(waiting: list[Replacing]) -> str:
    """Why uninstall waits for the nodes of ``waiting`` before deleting the DaemonSet."""
    why = []
    if any(not r.first for r in waiting):
        why.append("an agent pod deleted while kmesh is installed keeps its node's data path for its replacement, "
                   "which removes it as the DaemonSet goes")
    if any(r.first for r in waiting):
        why.append("an agent pod still starting is loading its node's data path, which it removes as the DaemonSet "
                   "goes once started")
    return "; ".join(why)


def _replacement_now(agents: list[AgentPod], node: str, first: bool = False) -> str:
    """`the replacement agent pod runs`, or why it does not: not waited for any longer
    (_starting: it cannot start by itself, or has not in time), so the node is reported.
    ``first``: the node's first agent pod was awaited (_loading), no replacement."""
    which = "agent pod" if first else "replacement agent pod"
    new = [a for a in agents if a.node == node and not a.terminating]
    if any(a.running for a in new):
        return f"the {which} runs"
    if not new:
        return f"no {which} made in time, and it is not waited for"
    was = "has not started" if new[0].state == NOT_STARTED else "is not running"
    return f"the {which} {was} ({new[0].state}) and is not waited for"


def _took_over_words(waited_for: Replacing, waited: str) -> str:
    """What a node's result adds when its agent pod was being replaced (or was starting) as uninstall began."""
    if waited_for.first:
        return f"its agent pod was starting as uninstall began: waited {waited} for it to start"
    going = f"{', '.join(waited_for.going)} was being deleted" if waited_for.going else "its agent pod was replaced"
    return f"{going} as uninstall began: waited {waited} for its replacement"


def _parsed(stamp: Any) -> Optional[datetime]:
    try:
        return datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None


def _only_template_since(client: KubeClient, ds: dict, selector: str) -> Optional[datetime]:
    """When the DaemonSet ``ds`` (rendered) got its template, if it has had one only (one
    ControllerRevision); None when it had more or that cannot be read (unknown)."""
    meta = ds["metadata"]
    try:
        revisions = client.list("apps/v1", "ControllerRevision", meta.get("namespace"), label_selector=selector)
    except KmeshctlError:
        return None
    own = [r for r in revisions if any(o.get("kind") == "DaemonSet" and o.get("name") == meta["name"]
                                       for o in r["metadata"].get("ownerReferences") or [])]
    return _timestamp(own[0]) if len(own) == 1 else None


def _first_of_template(pod: dict, since: Optional[datetime]) -> bool:
    """``pod`` was made with its DaemonSet's only template (created ``since``), within
    FIRST_POD_WINDOW_S of it: the first agent pod on its node, none ran there before it.
    One made later may replace a deleted one that ran (or serve a node that joined later)."""
    created = _timestamp(pod)
    return since is not None and created is not None and \
        (created - since).total_seconds() <= FIRST_POD_WINDOW_S


def _timestamp(obj: dict) -> Optional[datetime]:
    """``obj``'s creationTimestamp (None when missing or not a time)."""
    return _parsed((obj.get("metadata") or {}).get("creationTimestamp"))


def _runs(pod: dict) -> bool:
    """Every container of ``pod`` is running (started or not)."""
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    return status.get("phase") == "Running" and bool(statuses) and all(
        "running" in (c.get("state") or {}) for c in statuses)


def _started(pod: dict) -> bool:
    """Every container of ``pod`` runs and its startup probe passed (containerStatuses[].started;
    a server that does not say is taken at its running word). The agent's probe (/debug/live)
    answers only once `node run` has its SIGTERM handling in place and the data path loaded:
    from then on, its DaemonSet going makes it remove the node's data path. A container
    running for less than that may be killed before it can (its Python still starting)."""
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    return _runs(pod) and all(c.get("started", True) is True for c in statuses)


NOT_STARTED = "Running, not started"  # its startup probe has not passed yet


def _agent_pod(pod: dict, first_template: bool = False, installed: bool = False, replaced: bool = False) -> AgentPod:
    status = pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    running = _started(pod)
    waiting = [c["state"]["waiting"].get("reason", "") for c in statuses if "waiting" in (c.get("state") or {})]
    node = (pod.get("spec") or {}).get("nodeName") or ""
    terminating = bool(pod["metadata"].get("deletionTimestamp"))
    started = any(c.get("restartCount") or c.get("lastState") or set(c.get("state") or {}) - {"waiting"}
                  for c in statuses)
    state = ", ".join(filter(None, waiting)) or (NOT_STARTED if _runs(pod) and not running else
                                                 status.get("phase", "Unknown"))
    replaces = replaced and not terminating
    return AgentPod(node=node or UNSCHEDULED, name=pod["metadata"]["name"], running=running, state=state,
                    scheduled=bool(node), never_ran=first_template and not running and not started and not replaces,
                    terminating=terminating, deleted_before=installed and terminating, replaced=replaces)


def marked_pods_by_node(client: KubeClient) -> dict[str, list[str]]:
    """node -> namespace/name of the pods still annotated kmesh.net/redirection=enabled."""
    marked: dict[str, list[str]] = {}
    for view in map(PodView.from_k8s, client.list("v1", "Pod")):
        if is_annotated(view):
            marked.setdefault(view.node_name or UNSCHEDULED, []).append(f"{view.namespace}/{view.name}")
    return marked


def node_results(namespace: str, agents: list[AgentPod], marked: dict[str, list[str]],
                 took_over: Optional[dict[str, str]] = None) -> list[DeleteResult]:
    """One result per node: its agent stopped and cleaned up, or what may remain and the fix.
    A pod deleted_before is said only where no other agent pod is (its replacement's result
    says the node); ``took_over``: node -> words a node's result adds (await_replacements)."""
    replaced = {a.node for a in agents if not a.deleted_before}
    results = []
    for agent in (a for a in agents if not (a.deleted_before and a.node in replaced)):
        result = _node_result(namespace, agent, marked)
        note = (took_over or {}).get(agent.node)
        results.append(replace(result, detail=f"{result.detail}; {note}") if note else result)
    return results


def _node_result(namespace: str, agent: AgentPod, marked: dict[str, list[str]]) -> DeleteResult:
    """node_results' result of ``agent``'s node."""
    ref = f"node {agent.node}: agent pod {namespace}/{agent.name}"
    left = marked.get(agent.node, []) if agent.scheduled else []
    if not agent.scheduled:  # a pod no node took never ran: it left nothing anywhere
        return DeleteResult(ref, "stopped", NEVER_SCHEDULED)
    # no replacement ran (await_replacements waits for one while the pod is in its grace period)
    kept = (f"it was being deleted while kmesh was installed ({agent.state}, past its grace period: its node may be "
            "down), so it kept the node's data path for a replacement, and none ran there")
    if left:
        why = kept if agent.deleted_before else "the agent did not remove the node's data path"
        return DeleteResult(ref, "needs cleanup", (
            f"pods still marked {REDIRECTION_ANNOTATION} ({marked_list(left)}): {why}; {NODE_CLEANUP_FIX}, then "
            + " and ".join(f"`{command}`" for command in unmark_commands(left))))
    if agent.deleted_before:
        return DeleteResult(ref, "needs cleanup", f"{kept}; {MAYBE_CLEANUP_FIX}")
    if agent.state == "Succeeded":  # its stop ran to the end: the kubelet's exit 0 after SIGTERM
        return DeleteResult(ref, "stopped", EXITED_CLEAN)
    if agent.replaced and not agent.running:
        return DeleteResult(ref, "needs cleanup", (
            f"it had not started ({agent.state}) when its DaemonSet went, and the agent pod it replaced ran on the "
            f"node and kept its data path for it, so that may remain; {MAYBE_CLEANUP_FIX}"))
    if agent.never_ran:
        return DeleteResult(ref, "stopped", f"it never ran: {agent.state}, and no agent of this install ran on the "
                                            "node, so this install left nothing there")
    if not agent.running:
        was = "had not started" if agent.state == NOT_STARTED else "was not running"
        return DeleteResult(ref, "needs cleanup", f"{was} ({agent.state}), so it could not clean up after "
                                                  f"an earlier agent; if one ran there, {MAYBE_CLEANUP_FIX}")
    return DeleteResult(ref, "stopped", "data path removed")


def leftover_results(marked: dict[str, list[str]], reported: set[str]) -> list[DeleteResult]:
    """One LEFT_MARKED result per node of ``marked`` (node -> namespace/name of the pods
    still marked, marked_pods_by_node) that is not in ``reported`` (the nodes an agent pod
    was reported for: node_results says those), UNSCHEDULED too; ref `node N`."""
    return [DeleteResult(f"node {node}", LEFT_MARKED, left_marked_detail(pods, node))
            for node, pods in sorted(marked.items()) if node not in reported]


def left_marked_detail(pods: list[str], node: str) -> str:
    """`pods still marked kmesh.net/redirection=enabled (ns/a, ...) and no agent left to
    remove the node's data path; run `kmeshctl node cleanup --ignore-not-found` on the node (as root), then
    `kubectl annotate pod -n ns a ... kmesh.net/redirection-``: the words of pods an agent
    marked on ``node`` with none left there (a pod on no node: only its annotation to remove)."""
    unmark = " and ".join(f"`{command}`" for command in unmark_commands(pods))
    if node == UNSCHEDULED:
        return f"pods on no node still marked {MARK} ({marked_list(pods)}); run {unmark}"
    return (f"pods still marked {MARK} ({marked_list(pods)}) and no agent left to remove the "
            f"node's data path; {NODE_CLEANUP_FIX}, then {unmark}")


def marked_list(pods: list[str], shown: int = 5) -> str:
    """`ns/a, ns/b, ... and 2 more`: the first ``shown`` of ``pods`` (namespace/name) named,
    the rest counted (the commands to run name them all: unmark_commands)."""
    more = len(pods) - shown
    return ", ".join(pods[:shown]) + (f" and {more} more" if more > 0 else "")


def unmark_commands(pods: list[str]) -> list[str]:
    """One `kubectl annotate pod -n NS POD... kmesh.net/redirection- kmesh.net/enrolled-by-`
    per namespace of ``pods`` (namespace/name), each a command that works when pasted: both
    annotations an agent sets, as its uninstall removes them."""
    by_namespace: dict[str, list[str]] = {}
    for ref in pods:
        namespace, _, name = ref.partition("/")
        by_namespace.setdefault(namespace, []).append(name)
    return [f"kubectl annotate pod -n {namespace} {' '.join(names)} {REDIRECTION_ANNOTATION}- "
            f"{ENROLLED_BY_ANNOTATION}-" for namespace, names in by_namespace.items()]


def limit_text(timeout: float) -> str:
    """`the --timeout 2s limit` (`the time limit` for none given: 0 or math.inf)."""
    return f"the --timeout {duration_words(timeout)} limit" if 0 < timeout < math.inf else "the time limit"


def wait_gone(client: KubeClient, obj: dict, deadline: float, poll: float = UNINSTALL_POLL_S, timeout: float = 0,
              on_wait: Callable[[str], None] = lambda line: None, again: str = "kmeshctl uninstall",
              progress: Callable[[], str] = lambda: "") -> None:
    """Until ``obj`` is gone; past ``deadline`` an error naming the --timeout (``timeout``
    seconds), what holds it, ``progress()`` (what the run deleted and did not), the kubectl
    command that shows what holds it and ``again`` (the uninstall as typed) to re-run. It
    is asked again once ``poll`` seconds after the first look before that error
    (waits.wait_gone, `waypoint delete`'s wait too): the first look follows the delete at
    once, when nearly any object (a namespace always) is still going. Once it has not gone
    within WAITING_NOTE_AFTER_S, ``on_wait`` gets one line saying what it waits for."""
    meta = obj["metadata"]
    started, noted = time.monotonic(), False

    def note(current: dict) -> None:
        nonlocal noted
        if not noted and time.monotonic() - started >= WAITING_NOTE_AFTER_S:
            noted = True
            on_wait(f"waiting for {object_ref(obj)} to go ({_holding(current)}), {limit_words(timeout)}")

    def still_there(current: dict) -> KmeshctlError:
        done = progress()
        # the line stays under the CLI's cut (badinput.MAX_LINE) with both commands' --kubeconfig
        held = f"; {done}; it is still going ({_holding(current)})" if done else f" ({_holding(current)})"
        return KmeshctlError(
            f"{object_ref(obj)} still exists after {limit_text(timeout)}{held}",
            fix=f"{_holding_check(obj, current)}, then re-run `{again}` (it is safe to repeat), "
                "with a longer --timeout if it was only slow")

    waits.wait_gone(lambda: client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace")),
                    deadline, poll, still_there, note)


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


def managers_args(obj: dict) -> str:
    """`get serviceaccount kmesh -n kmesh-system -o jsonpath='{.metadata.managedFields[*].manager}'`:
    kubectl's words that show what writes ``obj``."""
    return f"get {_kubectl_object(obj)} -o jsonpath='{{.metadata.managedFields[*].manager}}'"


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
    again: str = "kmeshctl uninstall",
    on_sending: Callable[[str], None] = lambda ref: None,
) -> list[DeleteResult]:
    """Delete `objs` in reverse order, each gone before the next; all within `timeout` seconds
    (math.inf: no limit): once it has passed, no further delete is sent and the error
    (timed_out) names what was not deleted and ``again``, the command that finishes it.
    Every request is cut there too (client.within): a DELETE cut so, or unanswered sooner
    (--request-timeout, the connection lost), is named as sent, its answer not seen, never
    as not deleted, in the same line. Any other request unanswered sooner (a read before
    or after a DELETE) is the same stopped line once a delete was sent (_Removal.cut);
    before that, nothing changed: the unreachable API's own error.
    ``on_sending``: an object's DELETE is about to be sent (a stop from then on may come
    after the cluster took it: stopped_text's ``unanswered``); ``on_sent``: an object's
    delete was accepted (it is awaited next); ``on_wait``: the line of an object slow to go
    (wait_gone). A namespace kept for the user's objects loses the labels install put on
    it (release_namespace)."""
    run = _Removal(client, objs, time.monotonic() + timeout, timeout, again, on_result, on_sent, on_wait, on_sending)
    with client.within(run.deadline):
        for obj in reversed(objs):
            if time.monotonic() >= run.deadline:
                raise run.timed_out(f"reached before deleting {object_ref(obj)}")
            try:
                run.one(obj)
            except ApiUnreachable as err:
                stop = run.cut(obj, err)
                if stop is err:
                    raise
                raise stop from err
        for result in run.leftovers():
            run.report(result)
    return run.results


@dataclass
class _Removal:
    """One uninstall: its deadline, callbacks, results, and the DELETEs sent (``sending``)
    and taken (``accepted``), for the line of a request the deadline cut."""

    client: KubeClient
    objs: list[dict]
    deadline: float
    timeout: float
    again: str
    on_result: Callable[[DeleteResult], None]
    on_sent: Callable[[str], None]
    on_wait: Callable[[str], None]
    on_sending: Callable[[str], None]
    results: list[DeleteResult] = field(default_factory=list)
    sending: list[str] = field(default_factory=list)
    accepted: list[str] = field(default_factory=list)
    agent_nodes: set[str] = field(default_factory=set)  # the nodes an agent pod was reported for
    foreign_agent: bool = False  # a DaemonSet kmesh kmeshctl did not make was left: its agents may mark pods
    marked: Optional[dict[str, list[str]]] = None  # the pods still marked, as read after the DaemonSet went
    took_over: dict[str, str] = field(default_factory=dict)  # node -> how its replaced agent was waited for

    def one(self, obj: dict) -> None:
        """Delete ``obj`` if it is kmeshctl's and wait for it to go; the DaemonSet's nodes reported."""
        checked = deletable(self.client, obj, self.objs, self.deadline, self.timeout)
        ours = obj["kind"] == "DaemonSet" and checked[0] is not None
        pods = self.agents(obj, checked[0]) if ours and self.client.is_served("v1", "Pod") else []
        try:
            result = delete_one(self.client, obj, objs=self.objs, checked=checked, on_sending=self._sending,
                                deadline=self.deadline, timeout=self.timeout)
        except ReplacedMeanwhile as err:
            raise self.replaced(obj) from err
        if result.outcome == "deleted":
            self.accepted.append(result.ref)
            self.on_sent(result.ref)
        if result.outcome in ("deleted", BEING_DELETED):  # what it holds goes first: the namespace after it
            wait_gone(self.client, obj, self.deadline, timeout=self.timeout, on_wait=self.on_wait, again=self.again,
                      progress=lambda: self.progress(result.ref))
        if result.reason == USER_OBJECTS_REASON:
            result = release_namespace(self.client, obj, result)
        self.report(result)
        if result.reason == LATE_REASON:
            raise self.timed_out(f"reached before what {result.ref} holds was all checked")
        self.foreign_agent |= obj["kind"] == "DaemonSet" and result.outcome in SPARED
        if result.outcome in ("deleted", BEING_DELETED) and pods:
            self.agent_nodes |= {pod.node for pod in pods if pod.scheduled}
            per_node, self.marked = _node_results(self.client, obj["metadata"]["namespace"], pods,
                                                    self.deadline, self.timeout, self.took_over)
            for node_result in per_node:
                self.report(node_result)

    def agents(self, obj: dict, current: Optional[dict]) -> list[AgentPod]:
        """The agent pods of the DaemonSet ``obj`` (``current``: as read) to report after it
        goes. When one is not running or is being deleted (and the DaemonSet is not: its
        agents would stop for good), as read once no node's agent pod is being replaced
        (await_replacements): one deleted while kmesh is installed kept its node's data path
        for its replacement, which removes it only if it runs when the DaemonSet goes."""
        pods = agent_pods(self.client, obj)
        if current is None or (current.get("metadata") or {}).get("deletionTimestamp"):
            return pods
        if all(pod.running and not pod.terminating for pod in pods if pod.scheduled):
            return pods  # none is being replaced: as read
        pods, self.took_over = await_replacements(self.client, obj, self.deadline, timeout=self.timeout,
                                                  on_wait=self.on_wait, stopped=lambda waiting:
                                                  self.replacing_stopped(obj, waiting))
        return pods

    def replacing_stopped(self, obj: dict, waiting: list["Replacing"]) -> KmeshctlError:
        """The --timeout reached while agent pods were being replaced (``waiting``): stopped
        before deleting the DaemonSet ``obj`` (sooner, those nodes would keep their data path),
        what went and what not, the look at the replacement and the uninstall to re-run."""
        ref, nodes = object_ref(obj), "that node's" if len(waiting) == 1 else "those nodes'"
        how = (f"{limit_text(self.timeout)} (reached before deleting {ref}, waiting for "
               f"{'; '.join(r.text for r in waiting)}; deleted sooner, {nodes} data path would stay: "
               f"{_why_awaited(waiting)})")
        look = waiting[0].look(obj["metadata"].get("namespace") or "")
        return KmeshctlError(stopped_text(how, self.objs, self.results, self.accepted, False, self.sending),
                             fix=f"see why with `{look}`, then re-run `{self.again}` (it is safe to repeat), with a "
                                 "longer --timeout if it was only slow")

    def leftovers(self) -> list[DeleteResult]:
        """After the deletes, leftover_results: the nodes with pods still marked that no
        agent pod was reported for. None while an agent may still run (a DaemonSet kmesh
        not kmeshctl's left, or kmeshctl's in another namespace), nor when the pods cannot
        be listed or the limit cut the list: the uninstall itself is done, and a DaemonSet
        deleted has its nodes' lines already."""
        if self.foreign_agent:
            return []
        try:
            if _readable(lambda: agent_namespaces(self.client)):
                return []
            # read once: after the DaemonSet went no agent of it marks a pod any more
            marked = self.marked if self.marked is not None else _readable(lambda: marked_pods_by_node(self.client))
        except (ApiError, ApiUnreachable):
            return []
        return leftover_results(marked or {}, self.agent_nodes)

    def _sending(self, ref: str) -> None:
        if ref not in self.sending:  # sent again after a 409: one delete to report
            self.sending.append(ref)
        self.on_sending(ref)

    def report(self, result: DeleteResult) -> None:
        self.on_result(result)
        self.results.append(result)

    def timed_out(self, when: str) -> KmeshctlError:
        return timed_out(self.objs, self.results, when, self.timeout, self.again, self.accepted, self.sending)

    def progress(self, shown: str) -> str:
        """`deleted ...; not deleted: ...` so far, ``shown`` (named by the line already) left out."""
        return "; ".join(stopped_parts(self.objs, self.results, self.accepted, self.sending, (shown,)))

    def cut(self, obj: dict, err: ApiUnreachable) -> KmeshctlError:
        """The error of a request about ``obj`` the deadline cut, or left unanswered sooner
        (``err``: --request-timeout, the connection lost): before its DELETE was sent, after
        it (being deleted), or the DELETE itself (sent, its answer not seen), all in the same
        words. ``err`` itself when unanswered sooner while nothing was sent yet: nothing
        changed, and the unreachable API's own line says so."""
        ref, past = object_ref(obj), time.monotonic() >= self.deadline
        unseen = self._unanswered(ref, err)
        if not (past or self.accepted or unseen):
            return err
        when = ("after deleting" if any(r.ref == ref for r in self.results) else  # its nodes' pods looked at
                "while deleting" if ref in self.accepted or ref in unseen else "before deleting")
        if past:
            return timed_out(self.objs, self.results, f"reached {when} {ref}", self.timeout, self.again,
                             self.accepted, unseen)
        slow = "i/o timeout" in err.problem  # else the connection failed: nothing to wait longer for
        return KmeshctlError(stopped_text(self._unanswered_how(ref, err, when, slow), self.objs, self.results,
                                          self.accepted, False, unseen),
                             fix=f"re-run `{self.again}` to remove the rest (it is safe to repeat)"
                                 + (", with a longer --request-timeout if it was only slow" if slow else ""))

    def _unanswered_how(self, ref: str, err: ApiUnreachable, when: str, slow: bool) -> str:
        """`no answer to the DELETE of REF within --request-timeout 1s`, `no answer within
        --request-timeout 1s before deleting REF` (a read), or the connection failing so."""
        limit = request_timeout_text(self.client.target.request_timeout)
        if isinstance(err, DeleteUnanswered):
            return (f"no answer to the DELETE of {ref} within {limit}" if slow else
                    f"the connection failing before the answer to the DELETE of {ref}")
        return f"no answer within {limit} {when} {ref}" if slow else f"the connection failing {when} {ref}"

    def _unanswered(self, ref: str, err: ApiUnreachable) -> list[str]:
        """The DELETEs sent whose answer was not seen: ``ref``'s only when ``err`` cut its
        DELETE (any earlier one of it was answered 409: replaced, nothing went)."""
        return [sent for sent in self.sending if sent != ref or isinstance(err, DeleteUnanswered)]

    def replaced(self, obj: dict) -> KmeshctlError:
        """``obj`` replaced each time it was read (replaced_error): stopped there, what went and what not."""
        ref = object_ref(obj)
        answered = [sent for sent in self.sending if sent != ref]  # each of its DELETEs answered 409: none went
        return KmeshctlError(
            stopped_text(f"{ref} being replaced each time it was read ({DELETE_ATTEMPTS} times)", self.objs,
                         self.results, self.accepted, False, answered),
            fix=f"see what re-creates it with `kubectl {managers_args(obj)}`, stop that, then re-run `{self.again}` "
                "(it is safe to repeat)")


def timed_out(objs: list[dict], results: list[DeleteResult], when: str, timeout: float, again: str,
              accepted: Sequence[str] = (), sending: Sequence[str] = ()) -> KmeshctlError:
    """`uninstall stopped by the --timeout 2s limit (WHEN): deleted ...; not deleted: ...`,
    its fix ``again`` to paste (the same uninstall: it is safe to repeat). ``accepted``:
    deletes the cluster took (being deleted); ``sending``: DELETEs sent (those not taken:
    their answer not seen)."""
    done = [r for r in results if r.reason != LATE_REASON]
    return KmeshctlError(stopped_text(f"{limit_text(timeout)} ({when})", objs, done, list(accepted), False,
                                      sending),
                         fix=f"re-run `{again}` to remove the rest (it is safe to repeat), with a longer --timeout "
                             "if it was only slow")


def _node_results(client: KubeClient, namespace: str, pods: list[AgentPod], deadline: float = math.inf,
                  timeout: float = 0, took_over: Optional[dict[str, str]] = None
                  ) -> tuple[list[DeleteResult], Optional[dict[str, list[str]]]]:
    """node_results after the DaemonSet went, and the pods still marked it read (None: not
    read); when this user may not list every pod (to find those still marked), or the list
    is cut at ``deadline`` (--timeout ``timeout``), one result per node saying it could not
    be checked, and uninstall goes on (its ServiceAccount, RBAC and namespace still to
    remove, or the deadline's error)."""
    try:
        marked, why = _readable(lambda: marked_pods_by_node(client)), POD_CHECK_FAILED
    except ApiUnreachable:
        if time.monotonic() < deadline:
            raise
        marked, why = None, pods_unchecked_in_time(timeout)
    results = node_results(namespace, pods, marked or {}, took_over)
    return _unchecked(results, why) if marked is None else results, marked


def _unchecked(results: list[DeleteResult], why: str) -> list[DeleteResult]:
    """``results`` of nodes whose marked pods could not be listed, each saying so (``why``)."""
    return [r if r.detail == NEVER_SCHEDULED else replace(r, detail=f"{r.detail}; {why}") for r in results]


def pods_unchecked_in_time(timeout: float) -> str:
    """_node_results' words for a pod list the deadline cut."""
    return (f"could not check pods within {limit_text(timeout)}, so pods still marked {REDIRECTION_ANNOTATION} "
            "may remain")


def dry_run(
    client: Optional[KubeClient],
    objs: list[dict],
    on_result: Callable[[DeleteResult], None] = lambda r: None,
) -> list[DeleteResult]:
    """What `uninstall` would delete, in its order, nothing deleted: each delete sent with
    dryRun=All (the API server answers for what exists, admission and RBAC), and so is
    the label removal of a namespace kept for the user's objects (release_namespace); with
    no ``client`` (no cluster configured) every object, unchecked."""
    results = []
    for obj in reversed(objs):
        result = (DeleteResult(object_ref(obj), "would be deleted", UNCHECKED) if client is None
                  else delete_one(client, obj, dry_run=True, objs=objs))
        if client is not None and result.reason == USER_OBJECTS_REASON:
            result = release_namespace(client, obj, result, dry_run=True)
        on_result(result)
        results.append(result)
    return results


def stopped_text(how: str, objs: list[dict], results: list[DeleteResult], sent: list[str], dry_run: bool,
                 unanswered: Sequence[str] = ()) -> str:
    """The one line of an uninstall a signal stopped: what was deleted, what was being
    deleted (``sent``: accepted; the API server finishes it), whose DELETE went out with
    its answer not read (``unanswered``: it may have been taken), and what was not."""
    if dry_run:
        return f"uninstall --dry-run stopped by {how}; nothing was deleted"
    return f"uninstall stopped by {how}: " + "; ".join(stopped_parts(objs, results, sent, unanswered))


def stopped_parts(objs: list[dict], results: list[DeleteResult], sent: Sequence[str],
                  unanswered: Sequence[str] = (), shown: Sequence[str] = ()) -> list[str]:
    """stopped_text's parts: `deleted ...` (or `nothing deleted yet`), `... being deleted`,
    `...: delete sent, answer not seen`, `not deleted: ...`; ``shown``: refs the line names
    already (in none of them)."""
    done = [r.ref for r in results if r.outcome == "deleted"]
    handled = {r.ref for r in results} | set(shown)
    going = [ref for ref in dict.fromkeys(sent) if ref not in handled]
    unseen = [ref for ref in dict.fromkeys(unanswered) if ref not in handled and ref not in going]
    left = [ref for ref in map(object_ref, reversed(objs)) if ref not in handled and ref not in going + unseen]
    parts = [f"deleted {', '.join(done)}" if done else "nothing deleted yet"]
    if going:
        parts.append(f"{', '.join(going)} being deleted (the cluster finishes it)")
    if unseen:
        parts.append(f"{', '.join(unseen)}: {UNANSWERED}")
    if left:
        parts.append(f"not deleted: {', '.join(left)}")
    return parts
