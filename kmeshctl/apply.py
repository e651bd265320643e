"""Sending rendered objects to the cluster: the checks that must pass before the first
write (every kind served, Istio kinds valid against the cluster's own CRDs, install
namespace not being deleted, and the API server's own dry run of every object), then
server-side apply in order, reporting per object whether it was created, configured or
left unchanged. The checks are the all-or-nothing part: an object the server would reject
stops the run before anything is written. A failure during the real apply after them (the
API server or its storage failing mid-way) stops there: PartialApply says what was
applied and what was not; re-running the same install applies the rest."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Optional

from kmeshctl.errors import KmeshctlError, UsageError, spoken_list
from kmeshctl.kube import ApiError, ApplyConflict, KubeClient, object_ref
from kmeshctl.render import NOT_OURS, POD_PATCH_POLICY_API, POD_PATCH_POLICY_SINCE, left_out_at, made_by_kmeshctl
from kmeshctl.validate import CrdSchemas, custom_objects, validate_manifests

Action = Literal["created", "configured", "unchanged"]
REJECTED_FIX = "change what the server objects to (flags, RBAC, or the cluster's admission policy), then re-run"
CRD_API_VERSION = "apiextensions.k8s.io/v1"
PSA_ENFORCE = "pod-security.kubernetes.io/enforce"
# The agent pods run on the host network with added capabilities and host paths
PSA_NEEDED = "privileged"


@dataclass(frozen=True)
class ApplyResult:
    ref: str
    action: Action


ISTIO_KINDS_FIX = ("install Istio / add the cluster to an ASM instance so its CRDs exist, then re-run (`kmeshctl "
                   "precheck` checks it)")


# The --kubernetes-version install renders no pod-patch policy at: the last before 1.30.
POLICY_LESS_VERSION = f"{POD_PATCH_POLICY_SINCE[0]}.{POD_PATCH_POLICY_SINCE[1] - 1}"


class PolicyApiNotServed(KmeshctlError):
    """A cluster of 1.30 or later (so install renders the pod-patch policy) that does not
    serve its ValidatingAdmissionPolicy (the API turned off): the fix is install at
    POLICY_LESS_VERSION (the CLI gives that line with every flag typed kept)."""


def policy_api_text(version: str) -> str:
    """Why install stops on a cluster of ``version`` (1.30 or later) that does not serve
    the ValidatingAdmissionPolicy API: precheck's row and install's error alike."""
    since = ".".join(map(str, POD_PATCH_POLICY_SINCE))
    return (f"the cluster is Kubernetes {version} and does not serve {POD_PATCH_POLICY_API} (served from {since} "
            f"unless the API server turns it off), which install renders for {since} and later (the pod-patch "
            "policy)")


def policy_api_fix(line: str) -> str:
    """The fix of policy_api_text: the install ``line`` at POLICY_LESS_VERSION."""
    return (f"install as for Kubernetes {POLICY_LESS_VERSION}, which leaves the policy out (the agent may then patch "
            f"any pod): `{line}`; or turn the API on")


def check_kinds_served(client: KubeClient, objs: list[dict]) -> None:
    """Stop before any write when the cluster lacks a kind: Istio's CRDs (none installed),
    or the pod-patch policy's ValidatingAdmissionPolicy on a cluster of 1.30 or later that
    turned it off (PolicyApiNotServed: install renders it for 1.30 and later)."""
    absent = [o for o in objs if not client.is_served(o["apiVersion"], o["kind"])]
    if not absent:
        return
    policy = left_out_at(POLICY_LESS_VERSION)
    fix = policy_api_fix(f"kmeshctl install --kubernetes-version {POLICY_LESS_VERSION}")
    if all(f"{o['kind']} {o['metadata']['name']}" in policy for o in absent):
        from kmeshctl.demo_cluster import validation_version  # the version install renders at

        raise PolicyApiNotServed(f"{policy_api_text(validation_version(client))}; nothing was applied", fix=fix)
    if any(f"{o['kind']} {o['metadata']['name']}" in policy for o in absent):  # Istio's too: both fixes
        fix = f"{ISTIO_KINDS_FIX}; for {POD_PATCH_POLICY_API}: {fix}"
    else:
        fix = ISTIO_KINDS_FIX
    missing = sorted({f"{o['kind']} ({o['apiVersion']})" for o in absent})
    raise KmeshctlError(f"the cluster does not serve {', '.join(missing)}; nothing was applied", fix=fix)


def fetch_crds(client: KubeClient, objs: list[dict], kubernetes_version: str) -> list[dict]:
    """The cluster's CRD objects for the custom kinds in `objs` (their kinds must be served)."""
    crds: dict[str, dict] = {}
    for obj in custom_objects(objs, kubernetes_version):
        kind = client.kind(obj["apiVersion"], obj["kind"])
        name = f"{kind.plural}.{kind.group}"
        if name not in crds:
            crd = client.get(CRD_API_VERSION, "CustomResourceDefinition", name)
            if crd is None:
                raise KmeshctlError(f"CustomResourceDefinition {name} not found although its kind is served; "
                                    "re-run, or pass --crd-file with the CRD")
            crds[name] = crd
    return list(crds.values())


def check_namespaces_not_terminating(client: KubeClient, objs: list[dict]) -> None:
    for obj in objs:
        if obj["kind"] != "Namespace":
            continue
        current = client.get("v1", "Namespace", obj["metadata"]["name"])
        if current and current["metadata"].get("deletionTimestamp"):
            raise KmeshctlError(
                f"namespace {obj['metadata']['name']} is still being deleted (uninstall in progress); nothing was "
                "applied", fix="wait until it is gone, then re-run")


class ForeignObject(UsageError):
    """An object install would write exists and kmeshctl did not make it (exit 2): install
    never overwrites or adopts it; nothing was written."""


def kubectl_words(obj: dict) -> str:
    """`daemonset kmesh -n kmesh-system`: kubectl's words for ``obj``."""
    namespace = obj["metadata"].get("namespace")
    return f"{obj['kind'].lower()} {obj['metadata']['name']}" + (f" -n {namespace}" if namespace else "")


@dataclass(frozen=True)
class Ownership:
    """What check_ownership found: ``objects``, those install writes (the user's
    namespaces left out); ``users_namespaces``, the names of those left out; ``existing``,
    the refs of ``objects`` already in the cluster (kmeshctl's, from an earlier install)."""

    objects: list[dict]
    users_namespaces: list[str]
    existing: list[str]


def current_object(client: KubeClient, obj: dict) -> Optional[dict]:
    """``obj`` as the cluster has it; None when absent or its kind is not served."""
    meta = obj["metadata"]
    if not client.is_served(obj["apiVersion"], obj["kind"]):
        return None
    return client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))


def foreign_objects(client: KubeClient, objs: list[dict],
                    read: Callable[[KubeClient, dict], Optional[dict]] = current_object) -> list[dict]:
    """The objects of ``objs`` that exist and kmeshctl did not make, each of which
    blocks install; a Namespace aside (install uses the user's as it is). The one
    finder of install, precheck and status (``read``: how each is read)."""
    found = []
    for obj in objs:
        current = read(client, obj) if obj["kind"] != "Namespace" else None
        if current is not None and not made_by_kmeshctl(current):
            found.append(obj)
    return found


def delete_fix(foreign: list[dict], agent_namespace: str) -> str:
    """`delete it (`kubectl delete ...`)` for each of ``foreign``; installing into another
    namespace (-n) is offered only when every one of them is in ``agent_namespace`` (a
    cluster-scoped or Istio-namespace object blocks every namespace alike)."""
    them = "it" if len(foreign) == 1 else "them"
    commands = ", ".join(f"`kubectl delete {kubectl_words(obj)}`" for obj in foreign)
    elsewhere = all(obj["metadata"].get("namespace") == agent_namespace for obj in foreign)
    return f"delete {them} ({commands})" + (" or install into another namespace (-n)" if elsewhere else "")


def foreign_problem(foreign: list[dict]) -> str:
    """`ClusterRole kmesh exists and was not made by kmeshctl` (`A, B and C exist and were ...`)."""
    refs = [object_ref(obj) for obj in foreign]
    return f"{spoken_list(refs)} exist{'s' if len(refs) == 1 else ''} and {'was' if len(refs) == 1 else 'were'} {NOT_OURS}"


def read_objects(client: KubeClient, objs: list[dict]) -> dict[int, Optional[dict]]:
    """Each of ``objs`` as the cluster has it now (None: absent), keyed by ``id(obj)``:
    one GET per object, shared by every check of one install."""
    return {id(obj): current_object(client, obj) for obj in objs}


def check_ownership(client: KubeClient, objs: list[dict], agent_namespace: str,
                    read: Optional[dict[int, Optional[dict]]] = None) -> Ownership:
    """Before any write (a dry run too): ``objs`` but the Namespace objects that exist and
    kmeshctl did not make (used as they are: never labelled, never deleted by uninstall);
    ForeignObject naming every other object of ``objs`` that exists without kmeshctl's
    label, or a namespace of the user's whose Pod Security level would refuse the agent.
    ``read``: read_objects' answer when the caller has it (else each object is read here)."""
    read = read_objects(client, objs) if read is None else read
    kept, users = [], []
    for obj in objs:
        current = read[id(obj)]
        if obj["kind"] == "Namespace" and current is not None:
            check_not_enrolled(current)
        if obj["kind"] == "Namespace" and current is not None and not made_by_kmeshctl(current):
            check_pod_security(current)
            users.append(obj["metadata"]["name"])
        else:
            kept.append(obj)
    foreign = foreign_objects(client, kept, lambda _, obj: read[id(obj)])
    if foreign:
        raise ForeignObject(f"{foreign_problem(foreign)}; {delete_fix(foreign, agent_namespace)}; nothing was "
                            "applied")
    existing = [object_ref(obj) for obj in kept if read[id(obj)] is not None]
    return Ownership(kept, users, existing)


def check_pod_security(namespace: dict) -> None:
    """The user's namespace lets the agent pods run: it enforces no Pod Security level
    but privileged (none set: the cluster's default, which precheck cannot see either)."""
    refused = pod_security_refusal(namespace)
    if refused is not None:
        problem, fix = refused
        raise ForeignObject(f"{problem}; nothing was applied; {fix}")


def check_not_enrolled(namespace: dict) -> None:
    """The agent's namespace is in no data plane (enrolled_refusal): enable-ns refuses to
    enroll it; install refuses it the same way, before any write."""
    refused = enrolled_refusal(namespace)
    if refused is not None:
        problem, fix = refused
        raise ForeignObject(f"{problem}; nothing was applied; {fix}")


def enrolled_refusal(namespace: dict) -> Optional[tuple[str, str]]:
    """(problem, fix) when ``namespace`` is enrolled in a data plane (istio.io/dataplane-mode
    Kmesh or another's, `none` aside): kmesh's own pods would be redirected; None otherwise.
    install refuses with it, precheck reports it."""
    from kmeshctl.enrollment import MODE_LABEL, MODE_NONE

    name = namespace["metadata"]["name"]
    value = (namespace["metadata"].get("labels") or {}).get(MODE_LABEL)
    if not value or value.lower() == MODE_NONE:
        return None
    return (f"namespace {name} is enrolled in a data plane ({MODE_LABEL}={value}), and the node agent's own pods "
            "must not be redirected",
            f"remove the label (`kubectl label namespace {name} {MODE_LABEL}-`) or install into another namespace (-n)")


def pod_security_refusal(namespace: dict) -> Optional[tuple[str, str]]:
    """(problem, fix) when ``namespace`` enforces a Pod Security level the agent pods
    cannot run under; None otherwise. install refuses with it, precheck reports it."""
    name = namespace["metadata"]["name"]
    level = (namespace["metadata"].get("labels") or {}).get(PSA_ENFORCE)
    if level in (None, PSA_NEEDED):
        return None
    return (f"namespace {name} enforces Pod Security level {level}, and the agent pods need {PSA_NEEDED} (host "
            f"network, capabilities, host paths)",
            f"allow it with `kubectl label namespace {name} {PSA_ENFORCE}={PSA_NEEDED} --overwrite` or install "
            f"into another namespace (-n)")


class DryRunRejected(KmeshctlError):
    """The API server's dry run rejected an object (conflict, admission, validation)."""

    def __init__(self, problem: str, fix: str, outcome: str = "nothing was applied", see: str = "") -> None:
        super().__init__(f"{problem}; {outcome}", fix=fix, see=see)
        self.problem = problem


def namespaces_to_create(client: KubeClient, objs: list[dict]) -> set[str]:
    """Names of the Namespace objects in `objs` that do not exist yet."""
    return {o["metadata"]["name"] for o in objs
            if o["kind"] == "Namespace" and client.get("v1", "Namespace", o["metadata"]["name"]) is None}


def target_namespace(client: KubeClient, obj: dict) -> Optional[str]:
    """The namespace `obj` lives in; None for cluster-scoped kinds."""
    if client.kind(obj["apiVersion"], obj["kind"]).namespaced:
        return obj["metadata"].get("namespace")
    return None


def in_namespaces(client: KubeClient, objs: list[dict], namespaces: set[str]) -> list[dict]:
    return [o for o in objs if target_namespace(client, o) in namespaces]


def server_dry_run(client: KubeClient, objs: list[dict]) -> None:
    """Send each object as a server-side apply with dryRun=All, in order: the API server runs
    admission, validation and field-manager conflict detection, and stores nothing."""
    for obj in objs:
        try:
            client.apply(obj, dry_run=True)
        except ApplyConflict as err:
            raise DryRunRejected(err.problem, err.fix) from err
        except ApiError as err:
            if obj["kind"] == "ClusterRoleBinding" and "cannot change roleRef" in str(err):
                raise DryRunRejected(f"{object_ref(obj)} grants another role than install's, and a binding's "
                                     "roleRef cannot change", f"delete it (`kubectl delete {kubectl_words(obj)}`), "
                                     "then re-run install") from err
            if err.status in (401, 403):  # its own fix (credentials, the permission refused) and pointer
                raise DryRunRejected(f"{object_ref(obj)} rejected by the API server: {err.problem}", err.fix,
                                     see=err.see) from err
            raise DryRunRejected(f"{object_ref(obj)} rejected by the API server: {err}", REJECTED_FIX) from err


def preflight(
    client: KubeClient, objs: list[dict], kubernetes_version: str, crds: CrdSchemas | None
) -> list[dict]:
    """Everything that can fail without writing, run before the first write.

    `crds` None means: validate Istio kinds against the cluster's own CRDs. Returns the
    objects the API server could not dry-run yet (see below); apply_all() dry-runs them
    as soon as it can, before writing anything but their namespace."""
    check_kinds_served(client, objs)
    if crds is None:
        crds = CrdSchemas.from_crd_objects(fetch_crds(client, objs, kubernetes_version))
    validate_manifests(objs, kubernetes_version, crds)
    check_namespaces_not_terminating(client, objs)
    # The real API server answers a dry-run create in a namespace that does not exist with
    # 404 (its NamespaceLifecycle admission runs on dry runs too, and a dry-run Namespace is
    # not stored; kubernetes/kubernetes#83562). So objects in a namespace this install creates
    # are validated client-side here (strictly, above) and dry-run by the server in
    # apply_all() right after it creates their namespace, before any other write. They
    # cannot conflict with another field manager: they cannot exist yet.
    deferred = in_namespaces(client, objs, namespaces_to_create(client, objs))
    server_dry_run(client, [o for o in objs if not any(o is d for d in deferred)])
    return deferred


def apply_one(client: KubeClient, obj: dict) -> ApplyResult:
    meta = obj["metadata"]
    before = client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))
    after = client.apply(obj)
    if before is None:
        action: Action = "created"
    else:
        action = "configured" if _changed(before["metadata"], after.get("metadata", {})) else "unchanged"
    return ApplyResult(object_ref(obj), action)


def _changed(before: dict, after: dict) -> bool:
    """Did this apply change the object? A new resourceVersion alone is not proof: a
    controller may have written the object's status meanwhile (the API server's type
    checker does for a ValidatingAdmissionPolicy). Where the object has a generation
    (bumped by spec changes only), compare that and the labels and annotations."""
    if before.get("resourceVersion") == after.get("resourceVersion"):
        return False
    if "generation" in before and "generation" in after:  # an empty map is none (the API server omits it)
        return before["generation"] != after["generation"] or any(
            (before.get(f) or {}) != (after.get(f) or {}) for f in ("labels", "annotations"))
    return True


class PartialApply(KmeshctlError):
    """The real apply of ``failed`` failed after the checks passed: ``applied`` stays
    applied (it is not rolled back: deleting a half-installed agent is uninstall's work),
    ``not_applied`` (``failed`` first) was not."""

    def __init__(self, applied: list[ApplyResult], not_applied: list[dict], cause: KmeshctlError) -> None:
        self.applied, self.not_applied, self.cause = applied, not_applied, cause
        self.failed = object_ref(not_applied[0])
        total = len(applied) + len(not_applied)
        self.counts = f"{len(applied)} of {total} objects applied, {len(not_applied)} not"
        super().__init__(f"{self.failed} could not be applied: {cause.problem}; {self.counts}")


def apply_all(
    client: KubeClient, objs: list[dict], on_result: Callable[[ApplyResult], None] = lambda r: None
) -> list[ApplyResult]:
    """Server-side apply each object in the given (dependency) order, all or nothing.

    Call preflight() first: it has the API server dry-run every object it can. The objects
    in a namespace this run creates are dry-run right after that namespace is created and
    before anything else is written; if the server rejects one, the namespaces just created
    are deleted again, so bad input leaves nothing behind."""
    new_namespaces = namespaces_to_create(client, objs)
    first = [o for o in objs if o["kind"] == "Namespace" and o["metadata"]["name"] in new_namespaces]
    rest = [o for o in objs if not any(o is f for f in first)]
    results = _apply_in_order(client, first, rest, [], on_result)
    created = [obj["metadata"]["name"] for obj, r in zip(first, results) if r.action == "created"]
    _dry_run_in_new_namespaces(client, in_namespaces(client, objs, new_namespaces), created)
    return _apply_in_order(client, rest, [], results, on_result)


def _apply_in_order(client: KubeClient, objs: list[dict], later: list[dict], done: list[ApplyResult],
                    on_result: Callable[[ApplyResult], None]) -> list[ApplyResult]:
    """``done`` plus the result of applying each of ``objs``; PartialApply naming ``later``
    too when one fails."""
    results = list(done)
    for index, obj in enumerate(objs):
        try:
            results.append(_apply_reported(client, obj, on_result))
        except KmeshctlError as err:
            raise PartialApply(results, objs[index:] + later, err) from err
    return results


def _apply_reported(client: KubeClient, obj: dict, on_result: Callable[[ApplyResult], None]) -> ApplyResult:
    result = apply_one(client, obj)
    on_result(result)
    return result


def _dry_run_in_new_namespaces(client: KubeClient, objs: list[dict], created: list[str]) -> None:
    try:
        server_dry_run(client, objs)
    except DryRunRejected as err:
        undone = _delete_namespaces(client, created)
        raise DryRunRejected(err.problem, err.fix, f"{undone}, nothing else was applied", err.see) from err


def _delete_namespaces(client: KubeClient, names: list[str]) -> str:
    """Delete the namespaces this run has just created; says what happened, for the error."""
    try:
        for name in names:
            client.delete("v1", "Namespace", name)
    except KmeshctlError as err:
        return f"could not delete namespace {', '.join(names)} created moments before ({err}): run kmeshctl uninstall"
    return f"namespace {', '.join(names)}, created moments before, was deleted again"


def nothing_changed(results: list[ApplyResult]) -> bool:
    return all(r.action == "unchanged" for r in results)
