"""`kmeshctl waypoint apply|list|status|delete`: a waypoint made of stock Envoy and the
kmeshctl controller (one Deployment), its Service, its RBAC, and the Gateway of class
`istio-waypoint` that makes istiod treat it as an Istio waypoint (manual deployment: the
Gateway's address names our Service, so istiod deploys nothing itself).

Objects come from templates/waypoint/waypoint.yaml.j2 and are sent with server-side apply
after the same checks as install (strict schemas, the cluster's CRDs, server dry-run).
"""

from __future__ import annotations

import math
import shlex
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional


from kmeshctl import apply as applier
from kmeshctl import waits
from kmeshctl.asciinum import duration_words, limit_words
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.kube import ApiError, ApiUnreachable, KubeClient, KubeTarget, object_ref
from kmeshctl.namespaces import terminating_why
from kmeshctl.params import WAYPOINT_DEFAULT_IMAGE as DEFAULT_IMAGE
from kmeshctl.params import WAYPOINT_DEFAULT_NAME as DEFAULT_NAME
from kmeshctl.params import WAYPOINT_DEFAULT_NAMESPACE as DEFAULT_NAMESPACE
from kmeshctl.params import WAYPOINT_DEFAULT_REPLICAS as DEFAULT_REPLICAS
from kmeshctl.params import WAYPOINT_DELETE_ATTEMPTS as DELETE_ATTEMPTS
from kmeshctl.params import WAYPOINT_GONE_POLL_S as GONE_POLL_S
from kmeshctl.params import WAYPOINT_NAMESPACES_SHOWN as NAMESPACES_SHOWN
from kmeshctl.params import WAYPOINT_POLL_S as POLL_S
from kmeshctl.params import check_image, counted
from kmeshctl.paths import templates_dir
from kmeshctl.render import COMMON_LABELS, MANAGED_BY_LABEL, MANAGED_BY_SELECTOR, made_by_kmeshctl, parse_manifests

if TYPE_CHECKING:
    from kmeshctl.rollout import ImageWatch, PodState
    from kmeshctl.waypoint.rollout import DeploymentRollout
    from kmeshctl.waypoint import model

# The defaults (DEFAULT_*, POLL_S, GONE_POLL_S, DELETE_ATTEMPTS, NAMESPACES_SHOWN) live in
# kmeshctl.params; they keep their names here for the callers (and tests) that use them.

PROXY_PORT = 15019  # Envoy's listener: PROXY protocol v2 from the Kmesh agent
HBONE_PORT = 15008  # the Gateway listener istiod expects on a waypoint
ADMIN_PORT = 15000  # Envoy's admin, 127.0.0.1 only (reached by port-forward)
STATUS_PORT = 15020  # the controller's /ready and /status
XDS_DIR = "/var/run/kmeshctl-waypoint"
GATEWAY_LABEL = "gateway.networking.k8s.io/gateway-name"
WAYPOINT_LABEL = "kmeshctl.io/waypoint"
CLUSTER_ROLE = "kmeshctl-waypoint"
RBAC_API = "rbac.authorization.k8s.io/v1"
GATEWAY_API = "gateway.networking.k8s.io/v1"
GATEWAY_CLASS = "istio-waypoint"
# --replicas: 0 as `kubectl scale --replicas=0` (a waypoint kept with no pod; its re-apply keeps it so)
MIN_REPLICAS, MAX_REPLICAS = 0, 20
REVISION_LABEL = "istio.io/rev"  # on the Gateway: which istiod revision reads it and writes its status
TEMPLATE = "waypoint/waypoint.yaml.j2"
# The Gateway API release Istio's ambient docs install (its standard channel has Gateway v1).
GATEWAY_API_INSTALL = ("kubectl apply -f https://github.com/kubernetes-sigs/gateway-api/releases/download/"
                       "v1.2.1/standard-install.yaml")


@dataclass(frozen=True)
class WaypointParams:
    namespace: str = DEFAULT_NAMESPACE
    name: str = DEFAULT_NAME
    image: str = DEFAULT_IMAGE
    replicas: int = DEFAULT_REPLICAS
    # The istiod revision that owns the Gateway (its istio.io/rev label, as istioctl's
    # `waypoint apply --revision`); "": the namespace's label or the default revision decide.
    revision: str = ""


# (parameter, value) -> the `kmeshctl waypoint apply ...` to paste with that flag set
# (the apply being run as typed, or apply_line's): a fix never resets what the user chose.
ApplyWith = Callable[[str, str], str]


def apply_line(p: WaypointParams, parameter: str = "", value: str = "") -> str:
    """`kmeshctl waypoint apply -n NS --name NAME` with each setting of ``p`` that is not
    the default (--image, --replicas, --revision: pasted, it keeps what the waypoint runs),
    the flag of ``parameter`` set to ``value``."""
    flags = {"namespace": "-n", "name": "--name", "image": "--image", "replicas": "--replicas",
             "revision": "--revision"}
    values = {"namespace": p.namespace, "name": p.name, "image": p.image if p.image != DEFAULT_IMAGE else "",
              "replicas": str(p.replicas) if p.replicas != DEFAULT_REPLICAS else "", "revision": p.revision}
    if parameter:
        values[parameter] = value
    return shlex.join(["kmeshctl", "waypoint", "apply",
                       *(word for key, flag in flags.items() if values[key] for word in (flag, values[key]))])


def running_params(client: KubeClient, namespace: str, name: str,
                   gateway: Optional[dict] = None) -> Optional[WaypointParams]:
    """What waypoint ``namespace/name`` runs with, as the flags of the apply that made it:
    --revision from its Gateway's istio.io/rev label, --replicas and --image from its
    Deployment (when it is the waypoint's own); None when its Gateway (``gateway``, read
    when not given) is not one `waypoint apply` made."""
    gateway = gateway if gateway is not None else client.get(GATEWAY_API, "Gateway", name, namespace)
    if gateway is None or not made_by_waypoint_apply(gateway, name):
        return None
    revision = ((gateway.get("metadata") or {}).get("labels") or {}).get(REVISION_LABEL, "")
    deployment = client.get("apps/v1", "Deployment", name, namespace)
    if deployment is None or not made_by_waypoint_apply(deployment, name):
        return WaypointParams(namespace, name, revision=revision)
    spec = deployment.get("spec") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    image = next((c.get("image") for c in containers if c.get("image")), DEFAULT_IMAGE)
    return WaypointParams(namespace, name, image, int(spec.get("replicas", DEFAULT_REPLICAS)), revision)


def check_params(p: WaypointParams) -> None:
    """UsageError (exit 2), one line, for the first parameter a waypoint cannot have: its
    name and namespace are RFC 1123 labels, checked as every `waypoint` command's flags are."""
    from kmeshctl.namespaces import check_names

    check_names("--name", [p.name], kind="waypoint name", example=f"--name {DEFAULT_NAME}")
    if p.name[0].isdigit():  # the waypoint's Service has its name too: an RFC 1035 label starts with a letter
        raise UsageError(f"--name {p.name}: not a valid waypoint name (its Service's name too: an RFC 1035 label, "
                         f"starting with a letter), e.g. --name w-{p.name}")
    check_names("--namespace", [p.namespace], example="--namespace default")
    if not MIN_REPLICAS <= p.replicas <= MAX_REPLICAS:
        raise UsageError(f"--replicas {p.replicas} is out of range {MIN_REPLICAS}-{MAX_REPLICAS}")
    if p.revision:
        check_names("--revision", [p.revision], kind="revision", example="--revision 1-22-6")
    check_image(p.image, example=DEFAULT_IMAGE)  # the one image-reference check, install's too


class GatewayApiMissing(KmeshctlError):
    """The cluster does not serve the Gateway API's Gateway kind (its CRDs are not installed)."""


def require_gateway_api(client: KubeClient, outcome: str = "") -> None:
    """GatewayApiMissing (exit 1), one line with the command that installs the CRDs, when
    ``client``'s cluster does not serve Gateway: every waypoint is a Gateway of class
    istio-waypoint, so no waypoint command means anything without it."""
    if not client.is_served(GATEWAY_API, "Gateway"):
        raise GatewayApiMissing(f"the cluster does not serve the Gateway API (kind Gateway, {GATEWAY_API}), "
                                f"which waypoints need{outcome}; install its CRDs: `{GATEWAY_API_INSTALL}`")


def binding_name(p: WaypointParams) -> str:
    return f"kmeshctl-waypoint-{p.namespace}-{p.name}"


def render(p: WaypointParams) -> list[dict]:
    """The waypoint's objects in apply order (checks `p` first)."""
    check_params(p)
    labels = {**COMMON_LABELS, WAYPOINT_LABEL: p.name}
    import jinja2  # when used: the node agent shares the CLI's process and never renders

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(templates_dir())),
                             undefined=jinja2.StrictUndefined, autoescape=False)
    text = env.get_template(TEMPLATE).render(
        name=p.name, namespace=p.namespace, image=p.image, replicas=p.replicas, revision=p.revision,
        revision_label=REVISION_LABEL,
        cluster_role=CLUSTER_ROLE, binding=binding_name(p), gateway_label=GATEWAY_LABEL,
        proxy_port=PROXY_PORT, hbone_port=HBONE_PORT, admin_port=ADMIN_PORT, status_port=STATUS_PORT,
        xds_dir=XDS_DIR, xds_socket=f"{XDS_DIR}/xds.sock", cluster_domain="cluster.local",
        labels=lambda n: "\n".join(f"{' ' * n}{k}: \"{v}\"" for k, v in labels.items()),
        common_labels=lambda n: "\n".join(f"{' ' * n}{k}: \"{v}\"" for k, v in COMMON_LABELS.items()),
    )
    return parse_manifests(text)


# ---------------------------------------------------------------- apply


def check_apply(client: KubeClient, p: WaypointParams, kubernetes_version: str,
                namespace_origin: str = "") -> list[dict]:
    """Every check apply makes before its first write (the namespace exists, the Gateway
    API is served, no object of the waypoint's names belongs to something else, the API
    server's own dry run of each object); the objects, in order. ``namespace_origin``:
    where -n's value came from when it was not typed (`from context prod`), for the error."""
    objs = render(p)
    check_apply_namespace(p, client)
    check_namespace(client, p.namespace, namespace_origin)
    check_namespace_open(client, p.namespace)
    require_gateway_api(client, "; nothing was applied")
    check_names_free(client, p, objs)
    applier.preflight(client, objs, kubernetes_version, None)
    return objs


def not_for_waypoints(client: Optional[KubeClient] = None) -> dict[str, str]:
    """The namespaces `waypoint apply` refuses, each with why: those enable-ns never
    enrolls (Kubernetes' own, Istio's, kmesh's; with ``client``, where the node agent
    runs too), `default` excepted (the usual home of an app)."""
    from kmeshctl.namespaces import never_enrolled, system_namespaces

    return never_enrolled(client) if client is not None else system_namespaces()


def check_apply_namespace(p: WaypointParams, client: Optional[KubeClient] = None, origin: str = "",
                          line: Callable[[str], str] = lambda namespace: "") -> None:
    """UsageError (exit 2, nothing applied) when -n names a namespace no Service of an app
    lives in (not_for_waypoints): a waypoint serves the Services of its own namespace.
    ``origin``: where the namespace came from when -n was not typed (`from context dev`);
    ``line``: the command line with -n NAMESPACE (`: `kmeshctl ...``), "" for none."""
    why = not_for_waypoints(client).get(p.namespace)
    if why is not None:
        where = f" ({origin})" if origin else ""
        raise UsageError(f"namespace {p.namespace}{where} {why}: a waypoint there serves no app (nothing was "
                         f"applied)", fix="pass -n with the namespace of the Services that will use it, e.g. "
                         f"-n {DEFAULT_APP_NAMESPACE}{line(DEFAULT_APP_NAMESPACE)}")


DEFAULT_APP_NAMESPACE = "default"  # the usual home of an app


def check_namespace(client: KubeClient, namespace: str, origin: str = "") -> None:
    """UsageError (exit 2, as every command's missing namespace) naming the namespaces
    there are and the command that makes it; ``origin``: where -n's value came from when
    it was not typed (`from context prod`)."""
    if client.get("v1", "Namespace", namespace) is not None:
        return
    where = f" ({origin})" if origin else ""
    try:
        names = sorted(n["metadata"]["name"] for n in client.list("v1", "Namespace"))
    except ApiError:  # may not list them: the line without the list
        names = []
    shown = ", ".join(names[:NAMESPACES_SHOWN]) + (", ..." if len(names) > NAMESPACES_SHOWN else "")
    there = f" (namespaces: {shown})" if names else ""
    raise UsageError(f"namespace {namespace}{where} does not exist{there}",
                     fix=f"create it with `kubectl create namespace {namespace}`, or pass -n NAMESPACE")


def check_namespace_open(client: KubeClient, namespace: str, outcome: str = "nothing was applied") -> None:
    """KmeshctlError (exit 1) when ``namespace`` is being deleted: the API server refuses
    every new object there (a Forbidden that reads as RBAC); what holds it (its conditions'
    messages), ``outcome``, and the command that shows it."""
    why = terminating_why(client.get("v1", "Namespace", namespace))
    if why is None:
        return
    raise KmeshctlError(f"namespace {namespace} is being deleted ({why}): the API server takes no new "
                        f"object there; {outcome}",
                        fix=f"`kubectl get namespace {namespace} -o yaml` shows what holds it; once it is gone, "
                            f"re-create it (`kubectl create namespace {namespace}`) and re-run, or pass -n NAMESPACE")


def is_ours(obj: dict, live: dict, p: WaypointParams) -> bool:
    """Whether ``live`` (the cluster's object of rendered ``obj``'s name) carries the labels
    render puts on waypoint ``p``'s objects: made by kmeshctl and labelled with its name
    (the ClusterRole every kmeshctl waypoint shares: made by kmeshctl)."""
    if not made_by_kmeshctl(live):
        return False
    return obj["kind"] == "ClusterRole" or _names_waypoint(live, p.name)


def _live(client: KubeClient, obj: dict) -> Optional[dict]:
    meta = obj["metadata"]
    return client.get(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"))


def objects_of(client: KubeClient, p: WaypointParams) -> tuple[list[str], list[str]]:
    """`Kind namespace/name` of the objects of waypoint ``p``'s names that exist: those
    labelled as its own (the shared ClusterRole left out), and those kmeshctl did not make
    (apply refuses them, --force-conflicts too)."""
    own: list[str] = []
    foreign: list[str] = []
    for obj in render(p):
        live = _live(client, obj)
        if live is None:
            continue
        ref = f"{obj['kind']} {_ref(obj['metadata'])}"
        if not is_ours(obj, live, p):
            foreign.append(ref)
        elif obj["kind"] != "ClusterRole":
            own.append(ref)
    return own, foreign


def delete_command(obj_ref: str) -> str:
    """`kubectl delete deployment wp3 -n team-a` for `Deployment team-a/wp3`."""
    kind, _, ref = obj_ref.partition(" ")
    namespace, _, name = ref.rpartition("/")
    return f"kubectl delete {kind.lower()} {name}" + (f" -n {namespace}" if namespace else "")


class NameTaken(UsageError):
    """An object of the waypoint's names is not the waypoint's (its fix: another --name)."""


def check_names_free(client: KubeClient, p: WaypointParams, objs: list[dict]) -> None:
    """NameTaken (a UsageError; nothing applied) when an object the waypoint would write
    exists and is not waypoint ``p``'s: server-side apply as kmeshctl would take over the
    user's object of that name (the demo's app Service is kmeshctl's too, so no conflict
    would stop it)."""
    for obj in objs:
        live = _live(client, obj)
        if live is None or is_ours(obj, live, p):
            continue
        if obj["kind"] == "ClusterRole":
            raise UsageError(f"ClusterRole {CLUSTER_ROLE} exists and was not made by kmeshctl (no "
                             f"{MANAGED_BY_LABEL[0]}={MANAGED_BY_LABEL[1]} label)",
                             fix="remove or rename it (every kmeshctl waypoint binds that name), then re-run")
        owner = _binding_owner(live)
        if obj["kind"] == "ClusterRoleBinding" and owner not in (None, f"{p.namespace}/{p.name}"):
            raise NameTaken(f"ClusterRoleBinding {obj['metadata']['name']} exists and is waypoint {owner}'s: a "
                            "waypoint's binding is named kmeshctl-waypoint-NAMESPACE-NAME, the same for waypoint "
                            f"{p.namespace}/{p.name}", fix="choose another --name")
        raise NameTaken(f"{obj['kind']} {_ref(obj['metadata'])} exists and was not made by kmeshctl waypoint "
                        f"apply --name {p.name}", fix="choose another --name")


def apply(client: KubeClient, p: WaypointParams, kubernetes_version: str,
          on_result: Callable[[applier.ApplyResult], None], namespace_origin: str = "",
          on_start: Callable[[str], None] = lambda ref: None,
          on_leftover: Callable[[str, str], None] = lambda ref, namespace: None,
          on_tidy_failed: Callable[[str], None] = lambda line: None) -> list[applier.ApplyResult]:
    """Check, then server-side apply each object in order (``on_start`` before each write,
    for a stop's report: that object may or may not be applied), then remove the bindings
    deleted namespaces' waypoints left, as delete does (remove_leftovers, ``on_leftover(ref,
    namespace)`` each; ``on_tidy_failed(line)`` when that fails: the apply still succeeded).
    PartialApply when an object fails: what was applied and what not (nothing is rolled back)."""
    objs = check_apply(client, p, kubernetes_version, namespace_origin)
    results: list[applier.ApplyResult] = []
    for index, obj in enumerate(objs):
        on_start(object_ref(obj))
        try:
            result = applier.apply_one(client, obj)
        except KmeshctlError as err:
            raise applier.PartialApply(results, objs[index:], err) from err
        results.append(result)
        on_result(result)
    remove_leftovers_if_listed(client, on_leftover, on_start, keep=binding_name(p), on_failed=on_tidy_failed)
    return results


def remove_leftovers_if_listed(client: KubeClient, on_removed: Callable[[str, str], None],
                               on_start: Callable[[str], None] = lambda ref: None, keep: str = "",
                               dry_run: bool = False,
                               on_failed: Callable[[str], None] = lambda line: None) -> list[str]:
    """remove_leftovers as a tidy-up beside an apply that succeeded, which it must not turn
    into a failure: nothing when this user may not list or delete ClusterRoleBindings (403);
    any other error (a 500, a timeout) is ``on_failed``'s one line (tidy_up_failed), and the
    names of those removed before it are returned."""
    tried: list[str] = []
    removed: list[str] = []

    def start(ref: str) -> None:
        tried.append(ref)
        on_start(ref)

    def done(ref: str, namespace: str) -> None:
        removed.append(ref.removeprefix("ClusterRoleBinding "))
        on_removed(ref, namespace)

    try:
        return remove_leftovers(client, done, start, keep=keep, dry_run=dry_run)
    except KmeshctlError as err:
        if not (isinstance(err, ApiError) and err.status == 403):
            on_failed(tidy_up_failed(tried[-1] if tried else "", err))
        return removed


def tidy_up_failed(ref: str, err: KmeshctlError) -> str:
    """The warning of a leftover binding's removal that failed (``ref``: the one whose
    DELETE failed; "": the look for them failed): the next apply or delete tries again."""
    what = f"could not remove {ref} left by a deleted namespace" if ref else \
        "could not look for the ClusterRoleBindings deleted namespaces' waypoints left"
    return f"{what} ({err.problem}); the next waypoint apply or delete tries again"


def wait_ready(client: KubeClient, p: WaypointParams, timeout: float, progress: Callable[[str], None],
               every_poll: bool = True, apply_with: Optional[ApplyWith] = None, before: str = "") -> None:
    """Until the waypoint's Deployment has rolled out the applied template (as `kubectl
    rollout status`: no pod of an earlier one left, the new ones available), its pods are
    ready and istiod has programmed its Gateway (its status carries the Service's address,
    which is what istiod hands to the agents). A progress line each poll (``every_poll``: a
    terminal), else only when the pods, the rollout or the Gateway changed (a log). The
    timeout's fix re-applies with ``apply_with`` (the apply as typed; None: apply_line's),
    or puts back the image the applied one replaced (``before``: the Deployment's image
    before this apply, "" none). A rollout past its progress deadline fails at once, and so
    does one whose pods not ready have all waited on their image for rollout.IMAGE_HOLD_S
    (the kubelet only backs off further: install's wait stops so too)."""
    from kmeshctl.rollout import IMAGE_HOLD_S, ImageWatch, RolloutState

    started = time.monotonic()
    shown: Optional[tuple[int, str, str]] = None
    on_image = ImageWatch()
    while True:
        state = waypoint_state(client, p.namespace, p.name)
        rollout = state.rollout
        if state.ready_pods >= p.replicas and state.addresses and (rollout is None or rollout.done):
            progress(f"waypoint {p.namespace}/{p.name}: {counted(state.ready_pods, 'pod')} ready; istiod: "
                     f"{', '.join(state.addresses)}")
            return
        elapsed = time.monotonic() - started
        if elapsed > timeout or (rollout is not None and rollout.deadline):
            raise _not_ready(client, p, state, timeout, apply_with, before)
        stuck = state.ready_pods < len(state.pods)  # else none to read: the watch's hold starts again
        if waits := (_waiting_on_image(client, p, on_image) if stuck else on_image(RolloutState(True))):
            raise _not_ready(client, p, state, timeout, apply_with, before,
                             ended=f"not ready: every pod not ready has waited on its image for "
                                   f"{duration_words(IMAGE_HOLD_S)} ({waits}), which waiting longer does not end "
                                   f"(stopped after {duration_words(round(elapsed))})")
        waiting = rollout.waiting_for() if rollout is not None else ""
        if every_poll or shown != (state.ready_pods, state.gateway_reason, waiting):
            shown = (state.ready_pods, state.gateway_reason, waiting)
            progress(f"waiting for waypoint {p.namespace}/{p.name}: {state.ready_pods}/{p.replicas} pods ready, "
                     f"Gateway {state.gateway_reason}{f', rollout: {waiting}' if waiting else ''} "
                     f"({elapsed:.0f}s, {limit_words(timeout)})")
        time.sleep(POLL_S)


def _waiting_on_image(client: KubeClient, p: WaypointParams, watch: "ImageWatch") -> str:
    """``watch``'s word on the waypoint's pods not ready as read now ("" until they have all
    waited on their image long enough); a pod list that cannot be read says nothing."""
    from kmeshctl.rollout import RolloutState

    try:
        stuck = _stuck_pods_read(client, p)[0]
    except KmeshctlError:
        return ""
    return watch(RolloutState(True, pods=stuck))


def _not_ready(client: KubeClient, p: WaypointParams, state: "WaypointState", timeout: float,
               apply_with: Optional[ApplyWith], before: str, ended: str = "") -> KmeshctlError:
    """The one line of a wait that ended without the waypoint ready: the pods, the rollout
    (past its deadline: said so), the Gateway, each stuck pod's reason, and stuck_fix's fix;
    ``ended`` says why it ended early ("": the timeout, or the rollout's deadline)."""
    stuck, raw = _stuck_pods_read(client, p)
    rollout = state.rollout
    ended = ended or (f"its rollout exceeded its progress deadline ({rollout.deadline})"
                      if rollout and rollout.deadline else f"not ready after {duration_words(timeout)}")
    waiting = f"; rollout: {rollout.waiting_for()}" if rollout is not None and rollout.waiting_for() else ""
    return KmeshctlError(f"waypoint {p.namespace}/{p.name} {ended} ({state.ready_pods}/{p.replicas} pods ready"
                         f"{waiting}; Gateway: {state.gateway_reason}"
                         f"{''.join(f'; pod {s.name}: {s.reason}' for s in stuck if s.reason)})",
                         fix=stuck_fix(p, stuck, istiod=not state.addresses, apply_with=apply_with,
                                       istiod_problem=istiod_cause(client, p) if not state.addresses else None,
                                       replaced=_replaced(client, p, stuck, before),
                                       crashing=crashing_container(raw)))


def _replaced(client: KubeClient, p: WaypointParams, stuck: "list[PodState]", before: str) -> str:
    """The image the waypoint's template replaced (rollout.replaced_image), asked only when
    a pod waits on its image or crashes (a put-back line is offered then); "" otherwise."""
    from kmeshctl.rollout import image_at_fault
    from kmeshctl.waypoint.rollout import replaced_image

    if not any(image_at_fault(s) or s.status == "CrashLoopBackOff" for s in stuck):
        return ""
    try:
        deployment = client.get("apps/v1", "Deployment", p.name, p.namespace)
        pods = waypoint_pods(client, p.namespace, p.name)
    except KmeshctlError:
        return before
    return replaced_image(client, deployment, pods, before) if deployment else before


def crashing_container(pods: list[dict]) -> tuple[str, str]:
    """(pod, container) of the first container of ``pods`` backing off after it exited
    (CrashLoopBackOff: its previous log says why); ("", "") none."""
    for pod in pods:
        for status in (pod.get("status") or {}).get("containerStatuses") or []:
            if ((status.get("state") or {}).get("waiting") or {}).get("reason") == "CrashLoopBackOff":
                return pod["metadata"]["name"], status.get("name", "")
    return "", ""


# ---------------------------------------------------------------- state


@dataclass
class WaypointState:
    namespace: str
    name: str
    managed: bool  # made by kmeshctl (else: another waypoint of class istio-waypoint)
    ready_pods: int = 0
    pods: list[str] = field(default_factory=list)  # its pods, those being deleted aside (as kubectl's READY counts)
    addresses: list[str] = field(default_factory=list)
    gateway_reason: str = "not found"
    services: list[str] = field(default_factory=list)
    terminating: list[str] = field(default_factory=list)  # its pods with a deletionTimestamp (a scale-down's)
    # its Deployment's rollout (kmeshctl.waypoint.rollout); None: not read (another tool's waypoint,
    # a Deployment of its name kmeshctl did not make, or one this user may not read)
    rollout: Optional["DeploymentRollout"] = None

    def as_dict(self) -> dict[str, Any]:
        """`waypoint list|status -o json|yaml` (docs/usage.md): camelCase, as every kmeshctl document."""
        return {"namespace": self.namespace, "name": self.name, "managed": self.managed,
                "readyPods": self.ready_pods, "pods": self.pods, "terminatingPods": self.terminating,
                "addresses": self.addresses,
                "gatewayReason": self.gateway_reason, "services": self.services}


def made_by_waypoint_apply(gateway: dict, name: str) -> bool:
    """Whether ``gateway`` carries the labels `waypoint apply --name NAME` puts on it
    (render.made_by_kmeshctl's, and the waypoint label naming NAME)."""
    return made_by_kmeshctl(gateway) and _names_waypoint(gateway, name)


def _names_waypoint(live: dict, name: str) -> bool:
    return ((live.get("metadata") or {}).get("labels") or {}).get(WAYPOINT_LABEL) == name


def gateway_maker(gateway: dict) -> str:
    """Who a Gateway not made by kmeshctl belongs to, as far as it says: `class
    istio-waypoint, managed by istioctl` (its managed-by label), or `no managed-by label`."""
    labels = (gateway.get("metadata") or {}).get("labels") or {}
    klass = (gateway.get("spec") or {}).get("gatewayClassName") or "none"
    owner = labels.get(MANAGED_BY_LABEL[0])
    return f"class {klass}, " + (f"managed by {owner}" if owner else f"no {MANAGED_BY_LABEL[0]} label")


def waypoint_state(client: KubeClient, namespace: str, name: str, gateway: Optional[dict] = None,
                   services: Optional[list[str]] = None) -> WaypointState:
    """The waypoint's Gateway status and pods, with ``services`` as the Services that use
    it (services_of: the one lookup of list, status and delete; None: not looked up).
    GatewayApiMissing when Gateway is not served."""
    require_gateway_api(client)
    gateway = gateway if gateway is not None else client.get(GATEWAY_API, "Gateway", name, namespace)
    state = WaypointState(namespace, name, gateway is not None and made_by_waypoint_apply(gateway, name))
    state.services = list(services or [])
    if gateway is not None:
        status = gateway.get("status") or {}
        state.addresses = [a.get("value", "") for a in status.get("addresses") or []]
        programmed = next((c for c in status.get("conditions") or [] if c.get("type") == "Programmed"), None)
        state.gateway_reason = (f"{programmed.get('reason')}" if programmed else "no status from istiod yet")
    pods = waypoint_pods(client, namespace, name, state.managed)
    going = [p for p in pods if p["metadata"].get("deletionTimestamp")]  # counted by none, asked by none
    state.pods = sorted(p["metadata"]["name"] for p in pods if p not in going)
    state.terminating = sorted(p["metadata"]["name"] for p in going)
    state.ready_pods = sum(1 for p in pods if _pod_ready(p))
    if state.managed:
        state.rollout = _rollout(client, namespace, name)
    return state


def _rollout(client: KubeClient, namespace: str, name: str) -> Optional["DeploymentRollout"]:
    """The rollout of waypoint namespace/name's own Deployment (not there: found False);
    None when a Deployment of its name is not kmeshctl's or this user may not read it."""
    from kmeshctl.waypoint.rollout import rollout_of

    try:
        deployment = client.get("apps/v1", "Deployment", name, namespace)
    except ApiError as err:
        if err.status != 403:
            raise
        return None
    if deployment is not None and not made_by_waypoint_apply(deployment, name):
        return None
    return rollout_of(deployment)


def pod_selector(name: str, managed: bool = True) -> str:
    """The label selector of waypoint ``name``'s pods: those of the template of kmeshctl's
    waypoint Deployment (its gateway, waypoint and managed-by labels) when ``managed`` (the
    Gateway is kmeshctl's), else the Gateway API's gateway-name label alone (another tool's
    waypoint: istiod labels its pods so)."""
    selector = f"{GATEWAY_LABEL}={name}"
    return f"{selector},{WAYPOINT_LABEL}={name},{MANAGED_BY_SELECTOR}" if managed else selector


def waypoint_pods(client: KubeClient, namespace: str, name: str, managed: bool = True) -> list[dict]:
    """The pods of waypoint namespace/name (pod_selector). A Deployment of its name that is
    not kmeshctl waypoint NAME's means kmeshctl's Deployment is gone (replaced): none then,
    whatever labels that Deployment's pods copied (`waypoint status` names the object)."""
    pods = client.list("v1", "Pod", namespace, pod_selector(name, managed))
    if not pods or not managed:
        return pods
    try:
        deployment = client.get("apps/v1", "Deployment", name, namespace)
    except ApiError as err:
        if err.status != 403:
            raise
        return pods  # may not read Deployments: the pods' labels are all there is to go by
    return [] if deployment is not None and not made_by_waypoint_apply(deployment, name) else pods


def _pod_ready(pod: dict) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def list_waypoints(client: KubeClient, namespace: Optional[str]) -> list[WaypointState]:
    """Every Gateway of class istio-waypoint (ours and others), with the Services using it."""
    require_gateway_api(client)
    gateways = [g for g in client.list(GATEWAY_API, "Gateway", namespace)
                if (g.get("spec") or {}).get("gatewayClassName") == GATEWAY_CLASS]
    users = waypoint_users(client)
    states = []
    for gw in sorted(gateways, key=lambda g: (g["metadata"]["namespace"], g["metadata"]["name"])):
        key = (gw["metadata"]["namespace"], gw["metadata"]["name"])
        states.append(waypoint_state(client, *key, gw, [_ref_of(s) for s in users.get(key, [])]))
    return states


def waypoint_names(client: KubeClient, namespace: str) -> list[str]:
    """The names of the waypoints (Gateways of class istio-waypoint) in ``namespace``."""
    return sorted(g["metadata"]["name"] for g in client.list(GATEWAY_API, "Gateway", namespace)
                  if (g.get("spec") or {}).get("gatewayClassName") == GATEWAY_CLASS)


def namespaces_with(client: KubeClient, name: str) -> list[str]:
    """The namespaces holding a waypoint named ``name`` (a wrong -n's fix); empty when this
    user may not list Gateways cluster-wide (only a hint is lost)."""
    try:
        gateways = client.list(GATEWAY_API, "Gateway")
    except KmeshctlError:
        return []
    return sorted({g["metadata"]["namespace"] for g in gateways if g["metadata"].get("name") == name
                   and (g.get("spec") or {}).get("gatewayClassName") == GATEWAY_CLASS})


def services_of(client: KubeClient, namespace: str, name: str) -> list[str]:
    """`namespace/name` of each Service that uses waypoint namespace/name (waypoint_users)."""
    return [_ref_of(s) for s in waypoint_users(client, namespace).get((namespace, name), [])]


def waypoint_users(client: KubeClient, namespace: Optional[str] = None
                   ) -> "dict[tuple[str, str], list[model.Service]]":
    """(namespace, name) of a waypoint -> the Services labelled to use it (their own
    istio.io/use-waypoint label, else their namespace's): the one answer of `waypoint
    list`, `status` and `delete`'s warning. Every namespace's; those of ``namespace``
    only when this user may not list Services cluster-wide."""
    from kmeshctl.waypoint import model

    try:
        objects = [{**n, "kind": "Namespace"} for n in client.list("v1", "Namespace")]
        objects += [{**s, "kind": "Service"} for s in client.list("v1", "Service")]
    except ApiError as err:
        if err.status != 403 or namespace is None:
            raise
        objects = [{**n, "kind": "Namespace"} for n in filter(None, [client.get("v1", "Namespace", namespace)])]
        objects += [{**s, "kind": "Service"} for s in client.list("v1", "Service", namespace)]
    snap = model.snapshot_from_objects(objects)
    users: dict[tuple[str, str], list[model.Service]] = {}
    for service in sorted(snap.services, key=lambda s: (s.namespace, s.name)):
        key = snap.waypoint_of(service)
        # a waypoint's own Service (in a namespace labelled to use it) does not use itself
        if key is not None and key != (service.namespace, service.name):
            users.setdefault(key, []).append(service)
    return users


def _ref_of(service: "model.Service") -> str:
    return f"{service.namespace}/{service.name}"


def unlabel_command(service: "model.Service") -> str:
    """The kubectl command that stops ``service`` using its waypoint: its own label
    removed, or its namespace's when it has none of its own."""
    from kmeshctl.waypoint.model import USE_WAYPOINT_LABEL

    if USE_WAYPOINT_LABEL in service.labels:
        return f"kubectl label service {service.name} -n {service.namespace} {USE_WAYPOINT_LABEL}-"
    return f"kubectl label namespace {service.namespace} {USE_WAYPOINT_LABEL}-"


# ---------------------------------------------------------------- delete


def exists(client: KubeClient, p: WaypointParams) -> bool:
    """Whether waypoint ``p`` is there: its Gateway (whoever made it), or any object
    labelled as its own (what a stopped apply leaves, or the Gateway API's CRDs removed
    with its Gateway); an object that only has its name (the user's Deployment `plainapp`)
    does not count, nor does the ClusterRole every kmeshctl waypoint shares."""
    gateways = client.is_served(GATEWAY_API, "Gateway")
    for obj in render(p):
        if obj["kind"] == "ClusterRole" or (obj["kind"] == "Gateway" and not gateways):
            continue
        live = _live(client, obj)
        if live is not None and (obj["kind"] == "Gateway" or is_ours(obj, live, p)):
            return True
    return False


def delete(client: KubeClient, p: WaypointParams, on_result: Callable[[str, str], None],
           on_start: Callable[[str], None] = lambda ref: None,
           on_leftover: Callable[[str, str], None] = lambda ref, namespace: None,
           dry_run: bool = False, timeout: float = math.inf, again: str = "") -> int:
    """Delete the waypoint's objects (the Gateway first, so istiod stops sending it), each
    gone before the next, all within ``timeout`` seconds: once it has passed no delete is
    sent, and the error names what was deleted, what not, and ``again`` (the command that
    finishes it; default the bare `kmeshctl waypoint delete -n NS --name NAME`). The shared
    ClusterRole goes with the last kmeshctl waypoint, once the bindings that deleted
    namespaces left are removed (remove_leftovers, ``on_leftover(ref, namespace)`` each).
    Only objects labelled as waypoint ``p``'s go: another object of the same name is left
    and reported so. ``on_result(ref, outcome)`` for each object, ``on_start(ref)`` before
    it is read and deleted (for a stop's report). ``dry_run``: the same reads and decisions,
    outcome WOULD_DELETE, nothing written. Returns how many were (would be) deleted."""
    gateway = _kmeshctls_gateway(client, p)
    order = [obj for obj in reversed(render(p)) if obj["kind"] != "Gateway" or gateway is not None]
    # the limit is for the deletes and waits: it starts once the objects are rendered
    run = _Deletion(client, p, on_result, on_start, on_leftover, dry_run, time.monotonic() + timeout, timeout,
                    again or _delete_of(p))
    with client.within(math.inf if dry_run else run.deadline):  # every request ends by the deadline too
        for index, obj in enumerate(order):
            run.rest = order[index:]
            try:
                if obj["kind"] != "ClusterRole" or run.role_goes():
                    run.one(obj)
            except ApiUnreachable as err:
                raise run.cut(err, obj) from err
    return run.found


def _delete_of(p: WaypointParams) -> str:
    return f"kmeshctl waypoint delete -n {p.namespace} --name {p.name}"


def _kmeshctls_gateway(client: KubeClient, p: WaypointParams) -> Optional[dict]:
    """The waypoint's Gateway (None when there is none, or the cluster serves no Gateway:
    the CRDs removed, its other objects left); UsageError when another tool made it: its
    objects are not kmeshctl's to delete."""
    gateway = client.get(GATEWAY_API, "Gateway", p.name, p.namespace) \
        if client.is_served(GATEWAY_API, "Gateway") else None
    if gateway is not None and not made_by_waypoint_apply(gateway, p.name):
        raise UsageError(f"Gateway {p.namespace}/{p.name} ({gateway_maker(gateway)}) was not made by kmeshctl "
                         "waypoint apply: delete it with the tool that made it")
    return gateway


def own_refs(p: WaypointParams) -> list[str]:
    """`Kind namespace/name` of each object of waypoint ``p``'s own (the shared ClusterRole
    aside), in apply order: what a delete of a waypoint that is gone reports as not found."""
    return [f"{obj['kind']} {_ref(obj['metadata'])}" for obj in render(p) if obj["kind"] != "ClusterRole"]


def delete_plan(client: KubeClient, p: WaypointParams) -> list[str]:
    """`Kind namespace/name` of what delete would delete, in its order (the leftover
    bindings, and the shared ClusterRole only when no other waypoint uses it): what a
    stopped delete reports as not deleted. Reads only."""
    planned: list[str] = []
    delete(client, p, lambda ref, outcome: planned.append(ref) if outcome == WOULD_DELETE else None,
           on_leftover=lambda ref, _namespace: planned.append(ref), dry_run=True)
    return planned


DELETED = "deleted"
WOULD_DELETE = "would be deleted"  # a dry run's DELETED
NOT_FOUND = "not found"


class ReplacedMeanwhile(KmeshctlError):
    """An object was replaced (a new uid) each time it was read, DELETE_ATTEMPTS times."""


class DeleteUnanswered(ApiUnreachable):
    """The DELETE of ``ref`` went out and no answer came (the API server may have taken it)."""

    def __init__(self, ref: str, err: ApiUnreachable) -> None:
        super().__init__(err.problem, fix=err.fix, see=err.see)
        self.ref = ref


UNANSWERED = "delete sent, answer not seen"  # uninstall's words too (it imports them)


@dataclass
class _Deletion:
    """One waypoint delete: its deadline, what it deleted, and which waypoint bindings are
    going (they do not keep the shared ClusterRole)."""

    client: KubeClient
    p: WaypointParams
    on_result: Callable[[str, str], None]
    on_start: Callable[[str], None]
    on_leftover: Callable[[str, str], None]
    dry_run: bool
    deadline: float
    timeout: float
    again: str
    found: int = 0
    deleted: list[str] = field(default_factory=list)  # refs deleted, leftover bindings too
    binding_outcome: str = ""  # of the waypoint's own ClusterRoleBinding
    going_uids: set[str] = field(default_factory=set)  # leftover bindings removed (would be)
    rest: list[dict] = field(default_factory=list)  # the objects not done yet, the current one first
    going: str = ""  # the ref deleted and awaited now

    def one(self, obj: dict) -> None:
        """Delete ``obj`` if it is the waypoint's (dry run: say whether it would), then wait
        until it is gone."""
        ref = _obj_ref(obj)
        self.start(ref)
        try:
            outcome = _read_outcome(self.client, obj, self.p) if self.dry_run else \
                _delete_if_ours(self.client, obj, self.p)
        except ReplacedMeanwhile as err:
            raise self.failed(err.problem, self.rest, fix=f"re-run `{self.again}` to delete the rest") from err
        if outcome == DELETED:
            self.going = ref
            self.wait_gone(obj)
            self.going = ""
            self.deleted.append(ref)
        if obj["kind"] == "ClusterRoleBinding":
            self.binding_outcome = outcome
        self.found += outcome in (DELETED, WOULD_DELETE)
        self.on_result(ref, outcome)

    def start(self, ref: str) -> None:
        """Before each delete: the deadline (a delete sent after it would only be reported as
        still there), then ``on_start``."""
        if not self.dry_run and time.monotonic() >= self.deadline:
            raise self.failed(f"waypoint delete stopped by {_limit(self.timeout)} before deleting {ref}", self.rest,
                              fix=f"re-run `{self.again}` to delete the rest, with a longer --timeout if it was "
                                  "only slow")
        self.on_start(ref)

    def role_goes(self) -> bool:
        """Remove the leftover bindings of deleted namespaces; then whether the shared
        ClusterRole is free: the bindings are listed again now (an apply may be running),
        and only those this delete removed (would) are left out."""
        removed = _remove_leftover_bindings(self.client, self._leftover_removed, self.start,
                                            keep=binding_name(self.p), dry_run=self.dry_run)
        self.going_uids |= {_uid(b) for b in removed}
        skip = {binding_name(self.p)} if self.binding_outcome == WOULD_DELETE else set()
        return not _waypoints_bound(self.client, skip, self.going_uids)

    def _leftover_removed(self, ref: str, namespace: str) -> None:
        """A leftover binding removed: named deleted at once, so a later one's stop still says so."""
        if not self.dry_run:
            self.deleted.append(ref)
        self.on_leftover(ref, namespace)

    def wait_gone(self, obj: dict) -> None:
        """Until the deleted ``obj`` is gone (a finalizer may hold it). Past the deadline an
        error naming what holds it, but only after a second look: the first follows the
        delete at once, when most objects are still going (waits.wait_gone, uninstall's too)."""
        waits.wait_gone(lambda: _live(self.client, obj), self.deadline, GONE_POLL_S,
                        lambda live: self._still_there(obj, live))

    def _still_there(self, obj: dict, live: dict) -> KmeshctlError:
        # imported here: uninstall imports this module
        from kmeshctl.uninstall import describe_args

        finalizers = (live.get("metadata") or {}).get("finalizers") or []
        held = f"finalizers: {', '.join(finalizers)}" if finalizers else "no finalizer"
        return self.failed(f"{_obj_ref(obj)} still exists after {_limit(self.timeout)} ({held})", self.rest[1:],
                           fix=f"see what holds it with `kubectl {describe_args(obj)}`, then re-run "
                               f"`{self.again}` (with a longer --timeout if it was only slow)")

    def cut(self, err: ApiUnreachable, obj: dict) -> KmeshctlError:
        """A request left unanswered, by the deadline or before it (--request-timeout, a lost
        connection): the error naming what was deleted, what was going (a DELETE sent or
        taken: never `not deleted`), what not; ``err`` as it is only before the deadline
        while this delete has changed nothing (nothing deleted, sent or going)."""
        ref = self.going or (err.ref if isinstance(err, DeleteUnanswered) else "")
        past = time.monotonic() >= self.deadline
        if self.dry_run or not (past or ref or self.deleted):
            return err
        state = "being deleted, it may be gone" if self.going else UNANSWERED
        when = f"while deleting {ref} ({state})" if ref else f"before deleting {_obj_ref(obj)}"
        rest = [o for o in self.rest if _obj_ref(o) != ref]
        if past:
            return self.failed(f"waypoint delete stopped by {_limit(self.timeout)} {when}", rest,
                               fix=f"re-run `{self.again}` to delete the rest, with a longer --timeout if it was "
                                   "only slow")
        return self.failed(f"waypoint delete stopped {when}: {err.problem}", rest,
                           fix=f"re-run `{self.again}` to delete the rest once the API server answers, with a "
                               "longer --request-timeout if it was only slow")

    def failed(self, problem: str, rest: list[dict], fix: str) -> KmeshctlError:
        """``problem``, what was deleted and what is still to delete (read now; past the
        deadline, whose floor cuts slow reads, ``rest`` as planned), and ``fix``."""
        parts = [f"deleted {', '.join(self.deleted)}"] if self.deleted else []
        try:
            left = _still_to_delete(self.client, self.p, rest)
        except ApiUnreachable:
            left = [_obj_ref(o) for o in rest]
        parts += [f"not deleted: {', '.join(left)}"] if left else []
        return KmeshctlError("; ".join([problem, *parts]), fix=fix)


def _limit(timeout: float) -> str:
    return f"the --timeout {duration_words(timeout)} limit"


def _obj_ref(obj: dict) -> str:
    return f"{obj['kind']} {_ref(obj['metadata'])}"


def _binding_ref(binding: dict) -> str:
    """`ClusterRoleBinding NAME` of a binding as listed (list items carry no kind)."""
    return f"ClusterRoleBinding {binding['metadata']['name']}"


def _uid(obj: dict) -> str:
    return (obj.get("metadata") or {}).get("uid") or ""


def _still_to_delete(client: KubeClient, p: WaypointParams, rest: list[dict]) -> list[str]:
    """`Kind namespace/name` of each of ``rest`` a delete would still delete (as a dry run
    decides), the leftover bindings before the ClusterRole."""
    refs: list[str] = []
    for obj in rest:
        if obj["kind"] == "ClusterRole":
            leftovers = [b for b, _ in leftover_bindings(client, keep=binding_name(p))]
            refs += [_binding_ref(b) for b in leftovers]
            ours = {binding_name(p)} if _binding_ref({"metadata": {"name": binding_name(p)}}) in refs else set()
            if _waypoints_bound(client, ours, {_uid(b) for b in leftovers}):
                continue
        if _read_outcome(client, obj, p) == WOULD_DELETE:
            refs.append(_obj_ref(obj))
    return refs


def _read_outcome(client: KubeClient, obj: dict, p: WaypointParams) -> str:
    """What delete would do to the object as it is now (not found, left, WOULD_DELETE)."""
    live = _live(client, obj)
    if live is None:
        return NOT_FOUND
    return WOULD_DELETE if is_ours(obj, live, p) else _left(p)


def _left(p: WaypointParams) -> str:
    return f"left: not waypoint {p.name}'s"


def _delete_if_ours(client: KubeClient, obj: dict, p: WaypointParams) -> str:
    """Read the object, then delete that object (its uid as precondition) if it is
    waypoint ``p``'s: its outcome (deleted, not found, left: not waypoint p's). Only the uid:
    a Deployment's status changes often right after an apply, and ownership is its
    labels, read again when the uid no longer matches (the object was replaced)."""
    for _ in range(DELETE_ATTEMPTS):
        live = _live(client, obj)
        if live is None:
            return NOT_FOUND
        if not is_ours(obj, live, p):
            return _left(p)
        try:
            return DELETED if _delete_version(client, obj, live, ("uid",)) else NOT_FOUND
        except ApiError as err:
            if err.status != 409:  # 409: replaced since it was read (its labels may differ)
                raise
    raise ReplacedMeanwhile(f"{_obj_ref(obj)} was replaced each time it was read ({DELETE_ATTEMPTS} times)")


def _delete_version(client: KubeClient, obj: dict, live: dict,
                    fields: tuple[str, ...] = ("uid", "resourceVersion")) -> bool:
    """Delete ``obj`` only as it was read (``live``'s ``fields`` as preconditions: else
    the API server answers 409). False when it is already gone."""
    meta, read = obj["metadata"], live.get("metadata") or {}
    preconditions = {k: read[k] for k in fields if read.get(k)}
    try:
        return client.delete(obj["apiVersion"], obj["kind"], meta["name"], meta.get("namespace"),
                             preconditions=preconditions)
    except ApiUnreachable as err:
        raise DeleteUnanswered(_obj_ref(obj), err) from err


def _waypoints_bound(client: KubeClient, skip_names: set[str], skip_uids: set[str]) -> list[str]:
    """The names of the waypoint bindings there are (each keeps the shared ClusterRole),
    those named in ``skip_names`` or with a uid in ``skip_uids`` (being deleted) left out."""
    bindings = client.list(RBAC_API, "ClusterRoleBinding", None, WAYPOINT_LABEL)
    return [b["metadata"]["name"] for b in bindings
            if b["metadata"]["name"] not in skip_names and _uid(b) not in skip_uids]


# ---------------------------------------------------------------- leftovers


def leftover_bindings(client: KubeClient, keep: str = "") -> list[tuple[dict, str]]:
    """(binding, namespace) of each waypoint ClusterRoleBinding kmeshctl made whose
    ServiceAccount's namespace no longer exists: deleting a namespace deletes only its
    namespaced objects, so its waypoint's cluster-scoped binding stays (and keeps the
    shared ClusterRole in use). ``keep``: a binding's name to leave out (the one a delete
    handles itself). A namespace this user may not read counts as existing."""
    selector = f"{MANAGED_BY_SELECTOR},{WAYPOINT_LABEL}"
    found = []
    for binding in sorted(client.list(RBAC_API, "ClusterRoleBinding", None, selector),
                          key=lambda b: b["metadata"]["name"]):
        if binding["metadata"]["name"] == keep or not _is_waypoint_binding(binding):
            continue
        namespaces = sorted({s.get("namespace") or "" for s in binding.get("subjects") or []
                             if s.get("kind") == "ServiceAccount"})
        if namespaces and all(not _namespace_exists(client, ns) for ns in namespaces):
            found.append((binding, namespaces[0]))
    return found


def _binding_owner(binding: dict) -> Optional[str]:
    """`namespace/name` of the kmeshctl waypoint whose ClusterRoleBinding ``binding`` is
    (the ServiceAccount it binds); None when it is no kmeshctl waypoint's."""
    if not _is_waypoint_binding(binding):
        return None
    account = next((s for s in binding.get("subjects") or [] if s.get("kind") == "ServiceAccount"), None)
    return f"{account.get('namespace')}/{account.get('name')}" if account else None


def _is_waypoint_binding(binding: dict) -> bool:
    """Labelled as a kmeshctl waypoint's and binding the waypoints' ClusterRole."""
    role = binding.get("roleRef") or {}
    return (made_by_kmeshctl(binding) and bool((binding["metadata"].get("labels") or {}).get(WAYPOINT_LABEL))
            and role.get("kind") == "ClusterRole" and role.get("name") == CLUSTER_ROLE)


def _namespace_exists(client: KubeClient, namespace: str) -> bool:
    if not namespace:
        return True  # no namespace named: nothing says it is gone
    try:
        return client.get("v1", "Namespace", namespace) is not None
    except ApiError as err:
        if err.status == 403:
            return True
        raise


def remove_leftovers(client: KubeClient, on_removed: Callable[[str, str], None],
                     on_start: Callable[[str], None] = lambda ref: None, keep: str = "",
                     dry_run: bool = False) -> list[str]:
    """Delete each leftover_bindings binding as it was read (uid and resourceVersion
    preconditions: its subjects decided; one changed meanwhile is left for the next run);
    ``on_removed(ref, namespace)`` for each. The names of those removed (``dry_run``:
    would be)."""
    removed = _remove_leftover_bindings(client, on_removed, on_start, keep, dry_run)
    return [b["metadata"]["name"] for b in removed]


def _remove_leftover_bindings(client: KubeClient, on_removed: Callable[[str, str], None],
                              on_start: Callable[[str], None], keep: str, dry_run: bool) -> list[dict]:
    """remove_leftovers: the bindings removed (would be), as they were read."""
    removed: list[dict] = []
    for binding, namespace in leftover_bindings(client, keep):
        obj = {"apiVersion": RBAC_API, "kind": "ClusterRoleBinding", "metadata": {"name": binding["metadata"]["name"]}}
        ref = _obj_ref(obj)
        on_start(ref)
        try:
            gone = dry_run or _delete_version(client, obj, binding)
        except ApiError as err:
            if err.status != 409:
                raise
            continue
        if gone:
            removed.append(binding)
            on_removed(ref, namespace)
    return removed


def leftover_line(ref: str, namespace: str, dry_run: bool = False) -> str:
    """The one line of `waypoint delete` for each leftover binding it removed (would)."""
    return f"{'would remove' if dry_run else 'removed'} {ref} left by deleted namespace {namespace}"


def _ref(meta: dict) -> str:
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


# ---------------------------------------------------------------- status


def pod_not_running(client: KubeClient, p: WaypointParams, pod: str, replaced: str = "") -> str:
    """Why waypoint pod ``pod`` is not running (its container's waiting reason, as
    install's rollout names it: `ImagePullBackOff: Back-off pulling image ...`) with the
    fix; "" when it runs (its controller can be asked)."""
    from kmeshctl.rollout import pod_state

    live = client.get("v1", "Pod", pod, p.namespace)
    if live is None or (live.get("status") or {}).get("phase") == "Running":
        return ""
    state = pod_state(live)
    return f"not running ({state.reason or state.phase}): {stuck_fix(p, [state], replaced=replaced)}"


def pod_starting(client: KubeClient, p: WaypointParams, pod: str) -> str:
    """`not ready yet (starting: ...)` when running waypoint pod ``pod`` is not Ready (its
    controller may not serve yet: a fresh scale-up's pod), with what to run; "" when it
    is Ready (a controller that does not answer then is the problem to report)."""
    live = client.get("v1", "Pod", pod, p.namespace)
    if live is None or _pod_ready(live):
        return ""
    statuses = (live.get("status") or {}).get("containerStatuses") or []
    waiting = [c["name"] for c in statuses if not c.get("ready")]
    which = f"container {', '.join(waiting)} not ready" if waiting else "not ready"
    return (f"not ready yet (starting: {which}): run `kmeshctl waypoint status -n {p.namespace} --name {p.name}` "
            f"again shortly; if it stays so, see `kubectl describe pod {pod} -n {p.namespace}`")


def istiod_cause(client: KubeClient, p: WaypointParams) -> Optional[str]:
    """Why no istiod programs waypoint ``p``'s Gateway, as `status` says it of the agents:
    `Deployment istio-system/istiod has 0/0 ready replicas: scale it up (`kubectl ...`)`
    when the Deployment of its revision's istiod Service (--revision, else the default
    one) has no ready pod; "" when that istiod is ready (its log tells more); None when
    there is no istiod of that revision or it cannot be read (a revision-only istiod may
    be the one meant)."""
    from kmeshctl.istiod import DEFAULT_REVISION, XDS_PORT, istiod_address_of, istiod_deployment, istiod_services
    from kmeshctl.istiod import service_revision

    try:
        services = [s for s in istiod_services(client) if service_revision(s) == (p.revision or DEFAULT_REVISION)]
    except KmeshctlError:
        return None
    deployments = [d for d in (istiod_deployment(client, istiod_address_of(s, XDS_PORT)) for s in services) if d]
    if not deployments:
        return None
    idle = next((d for d in deployments if d.none_ready), None)
    if idle is None:
        return ""
    return f"{idle.idle_text}: {idle.idle_fix}"


def stuck_fix(p: WaypointParams, stuck: "list[PodState]", istiod: bool = False,
              apply_with: Optional[ApplyWith] = None, istiod_problem: Optional[str] = None,
              replaced: str = "", crashing: tuple[str, str] = ("", "")) -> str:
    """The one diagnosis of waypoint pods not ready, for `waypoint status`'s lines and
    `apply --wait`'s failure alike: an image that cannot be pulled (or whose container
    cannot start) names the re-apply with --image, and the one putting back ``replaced``
    (the image the failing one replaced, "" none known), as install's put-back line; a
    container backing off (``crashing``: its pod and name, crashing_container's) its
    previous log and the put-back; else kubectl's describe of the pod (of every pod of
    the waypoint when several, or none), and istiod's log when ``istiod`` (its Gateway not
    programmed) or no pod is to blame; ``istiod_problem`` (istiod_cause's) names the
    istiod that has no ready pod instead ("": that istiod is ready, so no revision hint;
    None: not known). Each re-apply is ``apply_with``'s (None: apply_line of ``p``): one
    that dropped a setting would scale the waypoint back or drop its revision."""
    from kmeshctl.rollout import IMAGE_REASONS

    again = apply_with or (lambda parameter, value: apply_line(p, parameter, value))
    pulled = next((s for s in stuck if s.status in IMAGE_REASONS), None)
    if pulled is not None:
        return (f"the image {_image(pulled)} cannot be pulled: re-apply with --image one the nodes can pull"
                f"{_other_image(pulled, replaced, again, p.namespace)}")
    unstarted = next((s for s in stuck if s.not_started), None)
    if unstarted is not None:
        said = unstarted.last_exit or unstarted.reason
        return (f"the waypoint's container cannot start in image {_image(unstarted)} ({said}): re-apply with "
                f"--image a waypoint image{_other_image(unstarted, replaced, again, p.namespace)}")
    if crashing[0]:
        crashed = next((s for s in stuck if s.name == crashing[0]), None)
        put_back = _put_back(crashed, replaced, again) if crashed is not None else ""
        return (f"see why it exits with `kubectl logs {crashing[0]} -n {p.namespace} -c {crashing[1]} --previous`"
                f"{put_back}")
    describe = (f"`kubectl describe pod {stuck[0].name} -n {p.namespace}`" if len(stuck) == 1 else
                f"`kubectl describe pod -n {p.namespace} -l {GATEWAY_LABEL}={p.name}`")
    if istiod and istiod_problem:  # the istiod meant has no ready pod: that, not its log nor a revision
        return f"no istiod programs the Gateway: {istiod_problem}" + (f"; for the pods see {describe}" if stuck else "")
    log = " and istiod's log" if istiod or not stuck else ""
    # no istiod of the default revision (None): one installed with a revision only may leave an unlabelled Gateway
    if istiod and not p.revision and istiod_problem is None:
        log += (f" (istiod installed with a revision only, as ASM's istiod-1-22-6: re-apply with its revision, "
                f"`{again('revision', 'REVISION')}`)")
    return f"see {describe}{log}"


def _image(pod: "PodState") -> str:
    """The image of ``pod`` (PodState.image lists each container's: a waypoint's all run one)."""
    return pod.image.split(", ")[0]


def _other_image(pod: "PodState", replaced: str, again: ApplyWith, namespace: str) -> str:
    """The image to re-apply with as a whole line, never an IMAGE to fill in: the one the
    failing image replaced (_put_back), else the default waypoint image; a pod of the
    default image itself: the kubelet's events (the nodes' registry access to mend)."""
    put_back = _put_back(pod, replaced, again)
    if put_back:
        return put_back
    if _image(pod) != DEFAULT_IMAGE:
        return f", e.g. the default one: `{again('image', DEFAULT_IMAGE)}`"
    return (f"; it is the default one: check the nodes' registry access (`kubectl describe pod {pod.name} -n "
            f"{namespace}` shows the kubelet's events)")


def _put_back(pod: "PodState", replaced: str, again: ApplyWith) -> str:
    """`, or put back OLD, the image NEW replaced: `...``, install's words; "" when no
    other image is known."""
    from kmeshctl.rollout import put_back_words

    return put_back_words(_image(pod), replaced, again)


def _stuck_pods_read(client: KubeClient, p: WaypointParams) -> "tuple[list[PodState], list[dict]]":
    """The waypoint's pods not ready: read (rollout.pod_state: their reasons in install's
    words), and as the API server answered (a container's name is only there)."""
    from kmeshctl.rollout import pod_state

    raw = [pod for pod in waypoint_pods(client, p.namespace, p.name) if not _pod_ready(pod)]
    return [pod_state(pod) for pod in raw], raw


def rollout_replaced(client: KubeClient, p: WaypointParams, state: "WaypointState") -> str:
    """The image waypoint ``p``'s template replaced while its rollout is not done and a pod
    waits on its image or crashes (the put-back every fix of `waypoint status` offers); ""
    otherwise."""
    rollout = state.rollout
    if rollout is None or not rollout.found or rollout.done:
        return ""
    return _replaced(client, p, _stuck_pods_read(client, p)[0], "")


def rollout_problem(client: KubeClient, p: WaypointParams, state: "WaypointState", replaced: str = "") -> str:
    """`waypoint status`'s line for a rollout of its Deployment that is not done (apply
    --wait's words: what it waits for, each stuck pod's reason, the same fix with the
    put-back of ``replaced``, rollout_replaced's); "" when it is done or not read."""
    rollout = state.rollout
    if rollout is None or not rollout.found or rollout.done:
        return ""
    stuck, raw = _stuck_pods_read(client, p)
    reasons = "".join(f"; pod {s.name}: {s.status}" for s in stuck if not s.terminating)
    ended = f"exceeded its progress deadline ({rollout.deadline}): " if rollout.deadline else ""
    head = f"its rollout is not done ({ended}{rollout.waiting_for() or 'not done'}{reasons})"
    if not stuck:
        return head
    return f"{head}: {stuck_fix(p, stuck, replaced=replaced, crashing=crashing_container(raw))}"


def pod_status(namespace: str, pod: str, target: KubeTarget) -> dict[str, Any]:
    """The controller's /status of one waypoint pod, through a port-forward in the
    cluster ``target`` names."""
    from kmeshctl.config_dump import fetch_from_pod

    return fetch_from_pod("/status", pod, namespace, STATUS_PORT, target)
