"""Getting an install ready: the flags checked offline first, then the cluster to use
(none for an offline dry run), istiod's address when it was not given, the rendered
objects; and the dry run, online or offline. Applying them is kmeshctl/apply.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from kmeshctl import apply as applier
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.istiod import (XDS_PORT, IstioNamespaceMissing, IstiodDeployment, XdsAddressRefused, check_agents_host,
                             check_istio_namespace, check_istiods_cluster_id, check_xds_service, idle_istiod,
                             istiod_addresses, istiod_addresses_anywhere, resolve_xds_address, settled_address)
from kmeshctl.kube import (ApiError, KubeClient, KubeTarget, NoClusterConfigured, cluster_configured, connect_reachable,
                           object_ref)
from kmeshctl.params import (
    DEFAULT_ISTIO_NAMESPACE,
    DEFAULT_KUBERNETES_VERSION,
    DEFAULT_NAMESPACE,
    PLACEHOLDER_XDS_ADDRESS,
    XDS_ADDRESS_EXAMPLE,
    BadXdsAddress,
    InstallParams,
    install_params,
)
from kmeshctl.render import (POD_PATCH_POLICY_API, POD_PATCH_POLICY_SINCE, left_out_at, made_by_kmeshctl,
                             normalized_version, render_manifests, template_image)
from kmeshctl.uninstall import check_install_namespaces, installed_objects
from kmeshctl.validate import CrdSchemas, crd_schemas_from_files, validate_offline


@dataclass(frozen=True)
class InstallPlan:
    params: InstallParams
    objects: list[dict]
    client: Optional[KubeClient]  # None: an offline dry run
    crds: Optional[CrdSchemas]  # from --crd-file; None: the cluster's own CRDs (or none offline)
    xds_found_in: Optional[str] = None  # the namespace istiod was found in, when discovered
    offline_because: Optional[str] = None  # why a dry run runs offline
    users_namespaces: list[str] = field(default_factory=list)  # exist, not kmeshctl's: used as is, not in objects
    existing: list[str] = field(default_factory=list)  # refs of objects kmeshctl made before this run
    # the agents' image before this run ("" no DaemonSet of kmeshctl's): what one that cannot be pulled replaced
    image_before: str = ""
    cluster_version: str = ""  # the cluster's MAJOR.MINOR when --kubernetes-version was taken from it (else "")
    # a --kubernetes-version typed leaves the pod-patch policy out and the cluster serves it: its objects there
    # (install deletes none: they stay), None when not so
    policy_kept: Optional[list[str]] = None
    # a dry run's: istiod's Deployment with no ready pod (the real install refuses it: IstiodNotReady)
    istiod_idle: Optional[IstiodDeployment] = None

    @property
    def installed_before(self) -> bool:
        """An earlier install exists (its agents' DaemonSet, as status counts one): a stopped
        or failed run leaves it partly updated, so removing what was applied would remove
        it. A namespace of kmeshctl's that an uninstall kept (it held a user's object) is none."""
        return any(ref.startswith("DaemonSet ") for ref in self.existing)


@dataclass(frozen=True)
class DryRunReport:
    online: bool
    total: int
    deferred: list[dict] = field(default_factory=list)  # in namespaces install creates (checked once they exist)
    unvalidated_kinds: list[str] = field(default_factory=list)  # offline, no CRD schemas


class DryRunClusterUnreachable(KmeshctlError):
    """A dry run's configured cluster does not answer (exit 1): ``reason`` says why; the
    command line adds the offline command to run instead (its flags are the user's)."""

    def __init__(self, reason: KmeshctlError) -> None:
        super().__init__(f"{reason}; to validate without a cluster: `kmeshctl render`", reason.exit_code)
        self.reason = str(reason)


class NoClusterForIstiod(KmeshctlError):
    """A dry run without --xds-address and with no cluster configured to find istiod in
    (exit 1, as every command with no cluster); ``reason``: the NoClusterConfigured text."""

    def __init__(self, reason: KmeshctlError) -> None:
        super().__init__(f"no cluster to find istiod in ({reason}); pass --xds-address HOST:PORT "
                         f"(e.g. {XDS_ADDRESS_EXAMPLE}) for an offline dry run")
        self.reason = str(reason)


def missing_required(xds_address: Optional[str], cluster_id: Optional[str], dry_run: bool,
                     target: KubeTarget) -> list[str]:
    """The required parameters left out, all at once: cluster_id always; xds_address for a
    dry run with no cluster configured to find istiod in (it then runs offline)."""
    missing = ["cluster_id"] if cluster_id is None else []
    if xds_address is None and dry_run and not cluster_configured(target):
        missing.append("xds_address")
    return missing


def plan_install(xds_address: Optional[str], cluster_id: Optional[str], options: dict[str, Any],
                 crd_files: Optional[list[Path]], dry_run: bool, target: KubeTarget) -> InstallPlan:
    """`options`: the InstallParams fields other than xds_address and cluster_id; a
    kubernetes_version of None (not typed) is the cluster's (kubernetes_version_of), as
    helm's and istioctl's, offline DEFAULT_KUBERNETES_VERSION.

    Flags (and --crd-file) are checked before the cluster is contacted, so a bad flag
    never waits for, or touches, the cluster."""
    typed_version = options.get("kubernetes_version")
    options = {**options, "kubernetes_version": typed_version or DEFAULT_KUBERNETES_VERSION}
    _check_flags(xds_address, cluster_id, options)
    crds = crd_schemas_from_files(crd_files)
    client, offline_because = _cluster_for_dry_run(xds_address, target) if dry_run else \
        (connect_reachable(target), None)
    istio_namespace = options.get("istio_namespace", DEFAULT_ISTIO_NAMESPACE)
    cluster_version = ""
    if client is not None:  # what the flags name in the cluster exists, before anything is sent
        options["kubernetes_version"], cluster_version = kubernetes_version_of(client, typed_version)
        namespace = options.get("namespace", DEFAULT_NAMESPACE)
        # An install in other namespaces would lose its cluster-scoped objects to this one.
        check_install_namespaces(client, installed_objects(namespace, istio_namespace), namespace, istio_namespace)
        check_istio_namespace(client, istio_namespace)
        if xds_address is not None:
            check_xds_service(client, xds_address, agents_namespace=namespace)
    found_in, blockers = None, []
    if xds_address is None:
        assert client is not None  # without --xds-address, _cluster_for_dry_run needs a cluster
        found_in = istio_namespace
        try:
            xds_address = _istiod_in(client, istio_namespace)
        except UsageError:
            raise  # a flag to give or change (--istio-namespace, --xds-address): alone, it changes what is checked
        except KmeshctlError as no_istiod:  # the cluster's lack: said with every other blocker
            blockers.append(no_istiod)
    if client is not None and xds_address is not None and cluster_id is not None:
        check_istiods_cluster_id(client, xds_address, cluster_id)  # istiod would refuse every agent
    idle = idle_istiod(client, xds_address) if client is not None and xds_address is not None else None
    if idle is not None and not dry_run:  # the agents would get no xDS: the rollout could only time out
        blockers.append(IstiodNotReady(idle))
    params = install_params(xds_address or PLACEHOLDER_XDS_ADDRESS, cluster_id, **options)
    objects, users, existing, image_before = render_manifests(params), [], [], ""
    if client is not None:  # an object of kmeshctl's names it did not make is refused (or, a namespace, used as is)
        read = applier.read_objects(client, objects)
        check_not_being_deleted(objects, read)
        check_blockers(client, objects, params.namespace, read, blockers)
        image_before = _image_before(objects, read)
        ownership = applier.check_ownership(client, objects, params.namespace, read)
        objects, users, existing = ownership.objects, ownership.users_namespaces, ownership.existing
    return InstallPlan(params, objects, client, crds, found_in, offline_because, users, existing, image_before,
                       cluster_version, policy_left_in_cluster(client, params.kubernetes_version), idle)


class IstiodNotReady(KmeshctlError):
    """istiod's Deployment has no ready pod (istiod.idle_istiod: scaled to 0, or its pods not
    ready), exit 1 before any write: the agents would get no xDS and the rollout could only
    wait out its limit. A blocker as precheck's istiod row fails it; a dry run (nothing
    written, istiod may be scaled up before the real run) only warns (InstallPlan.istiod_idle).
    The CLI adds the install line to re-run."""

    def __init__(self, deployment: IstiodDeployment) -> None:
        super().__init__(istiod_idle_problem(deployment), fix=f"{istiod_idle_fix(deployment)}, then re-run this install")
        self.deployment = deployment


def istiod_idle_problem(deployment: IstiodDeployment) -> str:
    """`istiod in istio-system has 0 ready replicas (Deployment istio-system/istiod has 0/0
    ready replicas: scaled to 0), so the agents would get no xDS`."""
    why = "scaled to 0" if deployment.replicas == 0 else "its pods not ready"
    return (f"istiod in {deployment.namespace} has 0 ready replicas ({deployment.idle_text}: {why}), so the agents "
            "would get no xDS")


def istiod_idle_fix(deployment: IstiodDeployment) -> str:
    """`scale it up with `kubectl ...`` (at 0), else see why and wait for it (`kubectl ...
    describe`, `kubectl ... rollout status`): the lines to run before the install again."""
    if deployment.replicas == 0:
        return f"scale it up with `{deployment.scale_up_line}`"
    return f"see why with `{deployment.describe_line}` and wait for it with `{deployment.rollout_status_line}`"


def policy_left_in_cluster(client: Optional[KubeClient], kubernetes_version: str) -> Optional[list[str]]:
    """When ``kubernetes_version`` (typed) leaves out the pod-patch policy that ``client``'s
    cluster serves: those of its objects (`Kind name`) the cluster has (an earlier install's:
    this one deletes none, so the guard stays); None offline, from 1.30, or not served."""
    left = left_out_at(kubernetes_version)
    if client is None or not left or not client.is_served(*POD_PATCH_POLICY_API.split()):
        return None
    api = POD_PATCH_POLICY_API.split()[0]
    try:
        return [ref for ref in left if client.get(api, *ref.split(" ", 1)) is not None]
    except ApiError:  # may not read them: the plain warning (install itself says what it may not write)
        return None


class KubernetesVersionNotServed(UsageError):
    """A --kubernetes-version typed renders the ValidatingAdmissionPolicy (1.30 and later)
    that the cluster does not serve (exit 2): ``found``, the cluster's MAJOR.MINOR, is the
    version to give (the CLI adds the install line with it, every flag typed kept)."""

    def __init__(self, typed: str, found: str) -> None:
        since = ".".join(map(str, POD_PATCH_POLICY_SINCE))
        super().__init__(f"--kubernetes-version {typed}: the cluster is Kubernetes {found} and does not serve "
                         f"{POD_PATCH_POLICY_API}, which {since} and later render")
        self.typed, self.found = typed, found


def kubernetes_version_of(client: KubeClient, typed: Optional[str]) -> tuple[str, str]:
    """(the --kubernetes-version to render with, the cluster's MAJOR.MINOR when that is
    it, else ""): ``typed`` when given, else the cluster's (GET /version) clamped to the
    versions kmeshctl has schemas of. A typed version that renders the pod-patch policy
    on a cluster that does not serve it is KubernetesVersionNotServed, before any write."""
    from kmeshctl.demo_cluster import validation_version  # the clamp the waypoint and the demo use

    if typed is None:
        found = validation_version(client)
        return found, found
    if normalized_version(typed) >= POD_PATCH_POLICY_SINCE and not client.is_served(*POD_PATCH_POLICY_API.split()):
        raise KubernetesVersionNotServed(typed, validation_version(client))
    return typed, ""


@dataclass(frozen=True)
class ImageChange:
    ref: str  # NAMESPACE/NAME of the agents' DaemonSet
    before: str  # its image in the cluster
    after: str  # the image this install applies
    failing: bool = False  # agents cannot pull or start ``before``: no image to keep


def image_change(plan: InstallPlan) -> Optional[ImageChange]:
    """The agents' image this install replaces, when it replaces one of kmeshctl's with
    another (None offline, on a first install, or with the same image)."""
    daemonset = next((o for o in plan.objects if o.get("kind") == "DaemonSet"), None)
    if daemonset is None or not plan.image_before:
        return None
    after = template_image(daemonset)
    if after == plan.image_before:
        return None
    meta = daemonset["metadata"]
    return ImageChange(f"{meta.get('namespace')}/{meta['name']}", plan.image_before, after,
                       _image_failing(plan.client, meta.get("namespace", ""), meta["name"]))


def _image_failing(client: Optional[KubeClient], namespace: str, name: str) -> bool:
    """An agent pod of the DaemonSet cannot pull or start its image (rollout.image_at_fault),
    as read now; False offline or when it cannot be read."""
    from kmeshctl.rollout import daemonset_pods, image_at_fault

    if client is None:
        return False
    try:
        live = client.get("apps/v1", "DaemonSet", name, namespace)
        return live is not None and any(map(image_at_fault, daemonset_pods(client, live)))
    except KmeshctlError:
        return False


def _image_before(objects: list[dict], read: dict[int, Optional[dict]]) -> str:
    """The image of the agent DaemonSet of kmeshctl's that ``objects`` would replace, as
    read_objects read it (``read``); "" when there is none."""
    live = next((read.get(id(obj)) for obj in objects if obj.get("kind") == "DaemonSet"), None)
    return template_image(live) if live is not None and made_by_kmeshctl(live) else ""


def _check_flags(xds_address: Optional[str], cluster_id: Optional[str], options: dict[str, Any]) -> None:
    """install_params' checks, offline; an --xds-address of a bad form whose correction
    is clear (a missing port, a scheme) is XdsAddressRefused with that address (settled:
    the one render would take), so the fix offered is this install with it (every other
    flag kept); an address no agent can use is refused before connecting (check_agents_host)."""
    istio_namespace = options.get("istio_namespace", DEFAULT_ISTIO_NAMESPACE)
    try:
        install_params(xds_address or PLACEHOLDER_XDS_ADDRESS, cluster_id, **options)
    except BadXdsAddress as error:
        raise XdsAddressRefused(error.problem, [settled_address(error.meant, istio_namespace)]) from error
    if xds_address is not None:
        check_agents_host(xds_address, istio_namespace)


class BeingUninstalled(KmeshctlError):
    """Objects install writes are being deleted (an uninstall under way, or the namespace
    Terminating), exit 1: an apply now would race the deletion and leave a partial
    install. ``refs``: those being deleted; the CLI adds the install line to re-run."""

    def __init__(self, refs: list[str]) -> None:
        super().__init__(f"kmesh is being uninstalled ({', '.join(refs)} still being deleted); nothing was applied",
                         fix="wait for the uninstall to finish (`kmeshctl status` says when), then re-run this install")
        self.refs = refs


class NamespaceTerminating(KmeshctlError):
    """The agents' namespace is being deleted (``why``: `Terminating: <what holds it>`) and
    nothing else install writes is: the namespace's own deletion (a finalizer holds it),
    not an uninstall, exit 1; the CLI adds the install line to re-run once it is gone."""

    def __init__(self, namespace: str, why: str) -> None:
        super().__init__(f"namespace {namespace} is being deleted ({why}): the API server takes no new object there; "
                         "nothing was applied",
                         fix=f"`kubectl get namespace {namespace} -o yaml` shows what holds it; once it is gone, "
                             "re-run this install (it creates the namespace)")
        self.namespace = namespace


def check_not_being_deleted(objects: list[dict], read: dict[int, Optional[dict]]) -> None:
    """BeingUninstalled when any of ``objects`` as read (``read``: applier.read_objects')
    carries a deletionTimestamp; NamespaceTerminating when the namespace alone does (no
    uninstall under way: kmesh may never have been there); before any write, a dry run's too."""
    from kmeshctl.namespaces import terminating_why

    going = [(obj, current) for obj in objects
             if (current := read.get(id(obj))) and (current.get("metadata") or {}).get("deletionTimestamp")]
    if len(going) == 1 and going[0][0]["kind"] == "Namespace":
        obj, current = going[0]
        raise NamespaceTerminating(obj["metadata"]["name"], terminating_why(current) or "Terminating")
    if going:
        raise BeingUninstalled([object_ref(current) for _, current in going])


class InstallBlocked(KmeshctlError):
    """Several things in the cluster refuse this install, each a failed row of precheck's
    (the Istio kinds served, istiod, the agents' namespace, objects of kmeshctl's names it
    did not make): one line naming every one with its fix, nothing applied; the exit code
    of the first (precheck's order)."""

    def __init__(self, blockers: list[tuple[str, str, int]]) -> None:
        listed = "; ".join(f"({n}) {problem}: {fix}" if fix else f"({n}) {problem}"
                           for n, (problem, fix, _) in enumerate(blockers, 1))
        super().__init__(f"{len(blockers)} problems block the install, nothing was applied: {listed}",
                         blockers[0][2])
        self.blockers = blockers


def check_blockers(client: KubeClient, objects: list[dict], namespace: str, read: dict[int, Optional[dict]],
                   found: Optional[list[KmeshctlError]] = None) -> None:
    """Every blocker precheck would find in the cluster, at once, before any write:
    ``found`` (istiod missing, found by the caller), the kinds of ``objects`` the cluster
    does not serve, and what applier.check_ownership refuses (the agents' namespace
    enrolled in a data plane or enforcing a Pod Security level, objects of kmeshctl's
    names it did not make; ``read``: applier.read_objects' answer). One alone is raised in
    its own words (from where it was found); two or more are InstallBlocked."""
    blockers: list[tuple[str, str, int]] = []
    try:
        applier.check_kinds_served(client, objects)
    except KmeshctlError as missing:
        blockers.append((missing.problem.removesuffix("; nothing was applied"), missing.fix, missing.exit_code))
    blockers += [(error.problem, error.fix, error.exit_code) for error in found or []]
    blockers += [(problem, fix, UsageError.exit_code)
                 for problem, fix in ownership_blockers(client, objects, namespace, read)]
    if len(blockers) > 1:
        raise InstallBlocked(blockers)
    if found:
        raise found[0]
    applier.check_kinds_served(client, objects)  # one alone: its own line (check_ownership raises the others)


def ownership_blockers(client: KubeClient, objects: list[dict], namespace: str,
                       read: dict[int, Optional[dict]]) -> list[tuple[str, str]]:
    """(problem, fix) for each thing applier.check_ownership would refuse, with its words
    (enrolled_refusal, pod_security_refusal, foreign_objects), in precheck's order;
    ``read``: each object as applier.read_objects found it."""
    enrolled, pod_security, others = [], [], []
    for obj in objects:
        current = read[id(obj)]
        if obj["kind"] != "Namespace" or current is None:
            others.append(obj)
            continue
        enrolled.append(applier.enrolled_refusal(current))
        if not made_by_kmeshctl(current):
            pod_security.append(applier.pod_security_refusal(current))
        else:
            others.append(obj)
    found = [refused for refused in pod_security + enrolled if refused is not None]
    foreign = applier.foreign_objects(client, others, lambda _, obj: read[id(obj)])
    if foreign:
        found.append((applier.foreign_problem(foreign), applier.delete_fix(foreign, namespace)))
    return found


def _istiod_in(client: KubeClient, istio_namespace: str) -> str:
    """The one istiod address in ``istio_namespace``; a namespace without istiod is bad
    input (exit 2) naming the namespaces that have one, as a namespace that does not
    exist is (check_istio_namespace). Only with no istiod anywhere and the default
    namespace is it the cluster's lack (exit 1, resolve_xds_address's error)."""
    if istiod_addresses(client, istio_namespace):
        return resolve_xds_address(client, istio_namespace)
    with_istiod = sorted({address.split(".")[1] for address in istiod_addresses_anywhere(client)})
    if not with_istiod and istio_namespace == DEFAULT_ISTIO_NAMESPACE:
        return resolve_xds_address(client, istio_namespace)
    listed = ", ".join(with_istiod) or "none found; name istiod with --xds-address HOST:PORT"
    raise IstioNamespaceMissing(f"--istio-namespace {istio_namespace}: no istiod Service exposing port {XDS_PORT} "
                                f"in it (namespaces with istiod: {listed})", with_istiod)


def _cluster_for_dry_run(xds_address: Optional[str], target: KubeTarget
                         ) -> tuple[Optional[KubeClient], Optional[str]]:
    """The cluster configured (--kubeconfig, --context, $KUBECONFIG, ~/.kube/config, the
    in-cluster account) when it answers. A configured cluster that does not answer is an
    error, exit 1 (a CI dry run against prod must touch prod or fail); offline, (None, why),
    only when no cluster is configured at all and --xds-address is given."""
    try:
        return connect_reachable(target), None
    except NoClusterConfigured as error:
        if xds_address is None:
            raise NoClusterForIstiod(error) from error
        return None, str(error)
    except UsageError:
        raise  # a --kubeconfig / --context the user gave that does not load: exit 2, its own words
    except KmeshctlError as error:
        raise DryRunClusterUnreachable(error) from error


def dry_run(plan: InstallPlan) -> DryRunReport:
    """Every check install makes, nothing written: with a cluster, its preflight (CRDs,
    the API server's own dry run); offline, strict validation against what is at hand."""
    version = plan.params.kubernetes_version
    if plan.client is not None:
        deferred = applier.preflight(plan.client, plan.objects, version, plan.crds)
        return DryRunReport(online=True, total=len(plan.objects), deferred=deferred)
    unvalidated = validate_offline(plan.objects, version, plan.crds)
    return DryRunReport(online=False, total=len(plan.objects), unvalidated_kinds=unvalidated)


def apply(plan: InstallPlan, on_result: Callable[[applier.ApplyResult], None]) -> list[applier.ApplyResult]:
    """All checks before the first write (preflight: CRDs, the API server's dry run): a
    rejected object stops it with nothing applied; then server-side apply in order (a
    failure there is applier.PartialApply, naming what was applied and what was not)."""
    assert plan.client is not None  # only a dry run goes offline
    applier.preflight(plan.client, plan.objects, plan.params.kubernetes_version, plan.crds)
    return applier.apply_all(plan.client, plan.objects, on_result)
