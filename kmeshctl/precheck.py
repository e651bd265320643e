"""`precheck`: can kmeshctl install into this cluster? Each check says pass / warn / fail
and, when it does not pass, how to fix it."""

from __future__ import annotations

import re
import shlex
from dataclasses import asdict, dataclass
from typing import Any, Callable, Literal, Optional, cast

from kmeshctl.apply import (POLICY_LESS_VERSION, PSA_ENFORCE, PSA_NEEDED, delete_fix, enrolled_refusal,
                            foreign_objects, foreign_problem, pod_security_refusal, policy_api_fix, policy_api_text)
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.istiod import (CLUSTER_ID_ENV, XDS_PORT, ClusterIdNotIstiods, cluster_service, istiod_addresses,
                             idle_istiod, istiod_deployment, known_cluster_id)
from kmeshctl.kube import (ApiError, ApiUnreachable, KubeClient, KubeTarget, NotKubernetes, connect, diagnosis,
                           is_can_i_pointer)
from kmeshctl.params import counted
from kmeshctl.render import POD_PATCH_POLICY_API, POD_PATCH_POLICY_SINCE, left_out_at, made_by_kmeshctl
from kmeshctl.waypoint.model import SERVICE_NAME_LABEL
from kmeshctl.uninstall import InstalledElsewhere, check_install_namespaces, installed_objects

Status = Literal["pass", "warn", "fail"]
MIN_SERVER_VERSION = (1, 26)
MIN_KERNEL = (5, 10)
ISTIO_KINDS = [  # (apiVersion, kind, needed by)
    ("networking.istio.io/v1alpha3", "EnvoyFilter", "install (waypoint filters)"),
    ("networking.istio.io/v1alpha3", "VirtualService", "the fortio demo's traffic split"),
    ("networking.istio.io/v1alpha3", "DestinationRule", "the fortio demo's subsets"),
]
INSTALL_VERBS = ("get", "create", "patch")  # server-side apply = patch, plus create when absent
UNINSTALL_VERBS = ("get", "delete")  # each delete is awaited with gets until the object is gone
# Beyond the objects: uninstall reads the agent pods and the pods still marked, in every namespace.
UNINSTALL_LISTS = (("list", "", "pods"),)


# A fix that runs precheck or install again with some flags set: (command, {parameter:
# value}) -> the command line. The library knows only the bare line (bare_command); the
# CLI passes one that keeps every flag the user typed that the command takes (-o, -n,
# --kubeconfig...; kmeshctl.cli.cluster.precheck_fix_command), as kmeshctl.sandboxes.Rerun.
FixCommand = Callable[[str, dict[str, str]], str]


def bare_command(command: str, values: dict[str, str]) -> str:
    """`kmeshctl COMMAND --flag value...`: only the flags ``values`` names."""
    return shlex.join(["kmeshctl", command, *(w for name, value in values.items()
                                               for w in ("--" + name.replace("_", "-"), value))])


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""


def precheck_target(namespace: str, istio_namespace: str, target: KubeTarget,
                    uninstall: bool = False, fix_command: FixCommand = bare_command,
                    cluster_id: Optional[str] = None) -> list[CheckResult]:
    """Every check against the cluster ``target`` names. Bad namespace flags are a UsageError
    first, and so is a --kubeconfig / --context the user gave that does not load (exit 2,
    as every cluster command); an unreachable cluster is the first failed check."""
    installed_objects(namespace, istio_namespace)  # checks the namespace flags
    try:
        client = connect(target)
    except UsageError:
        raise
    except KmeshctlError as err:
        return [_unreachable(err)]
    return run_prechecks(client, namespace, istio_namespace, uninstall, fix_command, cluster_id)


def uninstall_ignores(flag: str) -> str:
    """`--cluster-id has no effect with --uninstall (...)`: install's ``flag`` typed with
    --uninstall, whose checks (reachable API, the install's namespaces, permissions to
    delete) never read it."""
    return (f"{flag} has no effect with --uninstall (its checks are the API, the install's namespaces and the "
            "permissions uninstall needs; istiod's cluster id is not read)")


def run_prechecks(client: KubeClient, namespace: str, istio_namespace: str,
                  uninstall: bool = False, fix_command: FixCommand = bare_command,
                  cluster_id: Optional[str] = None) -> list[CheckResult]:
    """Install's checks; ``uninstall``: uninstall's instead (the install's namespaces, the
    permissions it needs);
    ``cluster_id``: the --cluster-id install will be given (checked against istiod's)."""
    reachable = check_api_reachable(client)
    if reachable.status == "fail":
        return [reachable]
    checks: list[tuple[str, Callable[[], list[CheckResult]]]] = [
        ("Kubernetes version", lambda: [check_server_version(client, fix_command)]),
        ("Istio CRDs", lambda: check_istio_kinds(client)),
        (f"istiod Service :{XDS_PORT}", lambda: [check_istiod(client, istio_namespace, fix_command)]),
        (ISTIOD_CLUSTER_ID_CHECK, lambda: check_istiod_cluster_id(client, istio_namespace, cluster_id, fix_command)),
        (f"node kernels >= {MIN_KERNEL[0]}.{MIN_KERNEL[1]}", lambda: [check_node_kernels(client)]),
        (INSTALL_NAMESPACES_CHECK, lambda: [check_install_namespace(client, namespace, istio_namespace,
                                                                     fix_command)]),
        (NAMESPACE_OPEN_CHECK, lambda: [check_namespace_not_terminating(client, namespace)]),
        (POD_SECURITY_CHECK, lambda: [check_pod_security(client, namespace)]),
        (ENROLLED_CHECK, lambda: [check_not_enrolled(client, namespace)]),
        (FOREIGN_CHECK, lambda: [check_foreign_objects(client, namespace, istio_namespace)]),
        ("permissions to install", lambda: [check_permissions(client, namespace, istio_namespace,
                                                              kubernetes_version=_cluster_version(client))]),
    ]
    if uninstall:
        checks = [(INSTALL_NAMESPACES_CHECK, lambda: [check_install_namespace(client, namespace, istio_namespace,
                                                                             fix_command, "uninstall")]),
                  ("permissions to uninstall", lambda: [check_permissions(
            client, namespace, istio_namespace, UNINSTALL_VERBS, "uninstall", UNINSTALL_LISTS,
            _cluster_version(client))])]
    results = [reachable]
    silent: Optional[CheckResult] = None  # set once the API stops answering: no check waits again
    for name, check in checks:
        if silent is not None:
            results.append(CheckResult(name, "fail", f"not checked: the API server stopped answering (see "
                                                     f"{silent.name} above)"))
            continue
        try:
            results.extend(check())
        except KmeshctlError as err:  # e.g. the caller may not even list nodes
            problem, fix = problem_and_fix(err)
            results.append(CheckResult(name, "fail", f"could not check: {problem}", fix))
            if isinstance(err, ApiUnreachable):
                silent = results[-1]
    return results


def check_api_reachable(client: KubeClient) -> CheckResult:
    try:
        version = client.server_version()
    except KmeshctlError as err:
        return _unreachable(err)
    try:  # discovery too (GET /api, /apis): every command needs it, so "reachable" means it answers
        client.is_served("v1", "Namespace")
    except (ApiUnreachable, NotKubernetes) as err:
        return _unreachable(err)
    except KmeshctlError:
        pass  # a refusal: the later checks name it, with the permission each lacks
    return CheckResult("API reachable", "pass", f"{client.host} answers ({version.get('gitVersion', '?')})")


def _unreachable(err: KmeshctlError) -> CheckResult:
    """The failed first check: the error's problem as DETAIL and its one fix as FIX (each
    once; the fix every other command gives for the same failure, kmeshctl.kube.diagnosis)."""
    problem, fix = problem_and_fix(err)
    return CheckResult("API reachable", "fail", problem, fix)


def problem_and_fix(err: KmeshctlError) -> tuple[str, str]:
    """kmeshctl.kube.diagnosis of ``err``; a 403's fix (the permission to ask for) ends
    with kubectl's check of the call refused, as on every other command:
    `ask a cluster admin for RBAC permission to list nodes (`kubectl auth can-i list nodes -A` checks it)`."""
    problem, fix = diagnosis(err)
    return problem, f"{fix} ({err.see})" if is_can_i_pointer(err.see) else fix


class RefusedReads:
    """A client whose refused reads (401 / 403 on a get or list) are kept in ``refused``.
    install's own checks (and istiod's hints) take a read they may not make as nothing
    found, so install goes on and its writes say what is denied; precheck, asking the same
    helpers through it, learns it could not look and says so instead of pass."""

    def __init__(self, client: KubeClient) -> None:
        self._client = client
        self.refused: list[ApiError] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def get(self, *args: Any, **kwargs: Any) -> Optional[dict]:
        return self._kept(self._client.get, *args, **kwargs)

    def list(self, *args: Any, **kwargs: Any) -> list[dict]:
        return self._kept(self._client.list, *args, **kwargs)

    def _kept(self, read: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return read(*args, **kwargs)
        except ApiError as err:
            if err.status in (401, 403):
                self.refused.append(err)
            raise

    @property
    def client(self) -> KubeClient:
        """Itself, typed as the client the helpers take."""
        return cast(KubeClient, self)


def not_checked(name: str, refused: list[ApiError], what: str) -> CheckResult:
    """warn: a check that could not be made because reads were refused (``what``: what it
    could not look for). DETAIL each refusal (the server names verb and resource), FIX each
    permission to ask for with kubectl's check of it."""
    found = [problem_and_fix(err) for err in refused]
    problems = "; ".join(dict.fromkeys(problem for problem, _ in found))
    return CheckResult(name, "warn", f"not checked: could not {what}: {problems}",
                       "; ".join(dict.fromkeys(fix for _, fix in found)))


def parse_server_version(version: dict) -> tuple[int, int]:
    major = int(re.sub(r"\D", "", str(version.get("major", "0"))) or 0)
    minor = int(re.sub(r"\D", "", str(version.get("minor", "0"))) or 0)  # "30+" on some providers
    return major, minor


def check_server_version(client: KubeClient, fix_command: FixCommand = bare_command) -> CheckResult:
    """fail before MIN_SERVER_VERSION; warn before POD_PATCH_POLICY_SINCE, naming the
    objects install then leaves out (render.left_out_at: the guard on the agent's pod
    patches), as install's own warning does; fail from it when the cluster does not serve
    the policy's API (turned off: install refuses, apply.PolicyApiNotServed), with its fix."""
    found = parse_server_version(client.server_version())
    text = f"{found[0]}.{found[1]}"
    wanted = f"{MIN_SERVER_VERSION[0]}.{MIN_SERVER_VERSION[1]}"
    since = ".".join(map(str, POD_PATCH_POLICY_SINCE))
    if found >= MIN_SERVER_VERSION and found < POD_PATCH_POLICY_SINCE:
        left = left_out_at(text)
        return CheckResult("Kubernetes version", "warn", f"{text} (>= {wanted}); install leaves out "
                           f"{' and '.join(left)} ({since}'s ValidatingAdmissionPolicy), so the agent may patch "
                           "any pod", f"to have that guard, upgrade the cluster to Kubernetes {since} or later")
    if found >= MIN_SERVER_VERSION and not client.is_served(*POD_PATCH_POLICY_API.split()):
        line = fix_command("install", {"kubernetes_version": POLICY_LESS_VERSION})
        return CheckResult("Kubernetes version", "fail", f"{policy_api_text(_cluster_version(client))}: install "
                           "would refuse it", policy_api_fix(line))
    if found >= MIN_SERVER_VERSION:
        return CheckResult("Kubernetes version", "pass", f"{text} (>= {wanted})")
    return CheckResult("Kubernetes version", "fail", f"{text} is older than {wanted}",
                       f"upgrade the cluster to Kubernetes {wanted} or later")


def check_istio_kinds(client: KubeClient) -> list[CheckResult]:
    results = []
    for api_version, kind, needed_by in ISTIO_KINDS:
        name = f"Istio CRD {kind}"
        if client.is_served(api_version, kind):
            results.append(CheckResult(name, "pass", f"{api_version} {kind} served"))
            continue
        status: Status = "fail" if kind == "EnvoyFilter" else "warn"
        results.append(CheckResult(name, status, f"{api_version} {kind} not served (needed by {needed_by})",
                                   "add the cluster to an ASM instance (or install Istio) so its CRDs exist"))
    return results


def check_istiod(client: KubeClient, istio_namespace: str, fix_command: FixCommand = bare_command) -> CheckResult:
    name = f"istiod Service :{XDS_PORT}"
    found = istiod_addresses(client, istio_namespace)
    if len(found) == 1:
        return _no_ready_istiod(name, client, found[0], fix_command) or CheckResult(name, "pass", found[0])
    if found:
        install = fix_command("install", {"cluster_id": known_cluster_id(client, istio_namespace) or "ID",
                                          "xds_address": found[0]})
        return CheckResult(name, "warn", f"several revisions: {', '.join(found)}", f"name the one to use: `{install}`")
    return _no_istiod(name, client, istio_namespace, fix_command)


def _no_ready_istiod(name: str, client: KubeClient, address: str,
                     fix_command: FixCommand = bare_command) -> Optional[CheckResult]:
    """fail when the EndpointSlices of istiod's Service at ``address`` list no ready
    endpoint (istiod scaled to 0 or not starting: the agents would find no istiod, and
    their pods no istio-ca-root-cert ConfigMap, which istiod writes); None when one is
    ready, or none can be read (no slice yet, a Service without selector: istiod
    elsewhere, as ASM's). ``fix_command``: the precheck to re-run, the flags typed kept."""
    named = cluster_service(address)
    if named is None or not client.is_served("discovery.k8s.io/v1", "EndpointSlice"):
        return None
    service, namespace, _ = named
    reads = RefusedReads(client)
    try:
        slices = reads.client.list("discovery.k8s.io/v1", "EndpointSlice", namespace,
                                   label_selector=f"{SERVICE_NAME_LABEL}={service}")
    except KmeshctlError:
        if reads.refused:  # as every read precheck makes: a refusal is said, never a pass
            return not_checked(name, reads.refused, f"list the EndpointSlices of {address} (whether an istiod pod "
                               "is ready)")
        return None  # only this check depends on it
    if not slices or any((e.get("conditions") or {}).get("ready") is not False
                         for s in slices for e in s.get("endpoints") or []):
        return None
    idle = idle_istiod(client, address)
    if idle is not None:  # install's refusal, in the same words
        return CheckResult(name, "fail", f"{address}: no ready istiod pod ({idle.idle_text})",
                           f"{idle.idle_fix}, then re-run `{fix_command('precheck', {})}`")
    deployment = istiod_deployment(client, address)
    look = (deployment.describe_line if deployment else
            shlex.join(["kubectl", "-n", namespace, "get", "endpointslices", "-l",
                        f"{SERVICE_NAME_LABEL}={service}"]))
    return CheckResult(name, "fail", f"{address}: no ready istiod pod behind the Service",
                       f"see why istiod is not ready (`{look}`), then re-run")


ISTIOD_CLUSTER_ID_CHECK = "istiod cluster id"


def check_istiod_cluster_id(client: KubeClient, istio_namespace: str, cluster_id: Optional[str],
                            fix_command: FixCommand = bare_command) -> list[CheckResult]:
    """istiod's cluster id, when its Deployment in the cluster names it (no row
    otherwise: istiod outside the cluster, ASM, or its id set from elsewhere): what
    install's --cluster-id must be; a ``cluster_id`` given that is another fails, with
    the install to run (install refuses it: istiod would refuse every agent). Its Service
    or Deployment not readable: warn (install cannot check the id then either)."""
    reads = RefusedReads(client)
    deployments = [d for d in (istiod_deployment(reads.client, a) for a in istiod_addresses(client, istio_namespace))
                   if d is not None and d.cluster_id is not None]
    if reads.refused:
        return [not_checked(ISTIOD_CLUSTER_ID_CHECK, reads.refused, "read istiod's Service and Deployment "
                            "(the --cluster-id install needs)")]
    if len({d.cluster_id for d in deployments}) != 1:
        return []
    deployment = deployments[0]
    own = str(deployment.cluster_id)
    install = fix_command("install", {"cluster_id": own})
    if cluster_id is not None and cluster_id != own:
        return [CheckResult(ISTIOD_CLUSTER_ID_CHECK, "fail", f"{ClusterIdNotIstiods(cluster_id, deployment)}: "
                            "install would refuse it", f"install with istiod's: `{install}`")]
    source = (f"its {CLUSTER_ID_ENV} is not set: Istio's default" if deployment.defaulted else
              f"{CLUSTER_ID_ENV} of Deployment {deployment.namespace}/{deployment.name}")
    use = "" if cluster_id is not None else f": install with --cluster-id {own}"
    return [CheckResult(ISTIOD_CLUSTER_ID_CHECK, "pass", f"{own} ({source}){use}")]


def _no_istiod(name: str, client: KubeClient, istio_namespace: str,
               fix_command: FixCommand = bare_command) -> CheckResult:
    """No istiod in ``istio_namespace``: whether the namespace exists, which namespaces
    have an istiod, and the same precheck on the one that has (``fix_command``: with the
    flags typed)."""
    from kmeshctl.istiod import istiod_addresses_anywhere

    reads = RefusedReads(client)
    with_istiod = sorted({address.split(".")[1] for address in istiod_addresses_anywhere(reads.client)})
    refused = [problem_and_fix(err) for err in reads.refused]
    listed = f"namespaces with istiod: {', '.join(with_istiod)}" if with_istiod else \
        f"other namespaces not looked at: {refused[0][0]}" if refused else "no istiod Service found in any namespace"
    missing = client.get("v1", "Namespace", istio_namespace) is None
    detail = (f"namespace {istio_namespace} does not exist ({listed})" if missing else
              f"no istiod* Service exposing {XDS_PORT} in namespace {istio_namespace} ({listed})")
    again = fix_command("precheck", {"istio_namespace": with_istiod[0]}) if with_istiod else ""
    if len(with_istiod) == 1:
        fix = f"check with the namespace istiod runs in: `{again}`"
    elif with_istiod:
        fix = f"give --istio-namespace one of {', '.join(with_istiod)}, e.g. `{again}`"
    elif refused:
        fix = f"give --istio-namespace the namespace istiod runs in, or {refused[0][1]}"
    else:
        fix = ("install Istio or add the cluster to an ASM instance, then re-run; if istiod runs in a namespace "
               "you may not list, give it with --istio-namespace")
    return CheckResult(name, "fail", detail, fix)


def parse_kernel(version: str) -> tuple[int, int] | None:
    match = re.match(r"^(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else None


def check_node_kernels(client: KubeClient) -> CheckResult:
    name = f"node kernels >= {MIN_KERNEL[0]}.{MIN_KERNEL[1]}"
    nodes = client.list("v1", "Node")
    if not nodes:
        return CheckResult(name, "warn", "no nodes found", "add nodes before installing (the DaemonSet runs one pod each)")
    too_old = []
    for node in nodes:
        kernel = node.get("status", {}).get("nodeInfo", {}).get("kernelVersion", "")
        parsed = parse_kernel(kernel)
        if parsed is None or parsed < MIN_KERNEL:
            too_old.append(f"{node['metadata']['name']} ({kernel or 'unknown'})")
    if too_old:
        return CheckResult(name, "fail", f"too old: {', '.join(too_old)}",
                           "use nodes with kernel 5.10 or later (e.g. Alibaba Cloud Linux 3)")
    return CheckResult(name, "pass", f"{counted(len(nodes), 'node')} ok")


INSTALL_NAMESPACES_CHECK = "namespaces of the install on the cluster"


def check_install_namespace(client: KubeClient, namespace: str, istio_namespace: str,
                            fix_command: FixCommand = bare_command, command: str = "install") -> CheckResult:
    """Would ``command`` (install, or uninstall: precheck --uninstall) refuse -n /
    --istio-namespace for not being those of the install already on the cluster? Their
    own check (uninstall.check_install_namespaces), its reason, and its fix: the flag set
    to the install's namespace. Reads refused (they go on without them): warn, naming them."""
    reads = RefusedReads(client)
    try:
        check_install_namespaces(reads.client, installed_objects(namespace, istio_namespace), namespace,
                                 istio_namespace)
    except InstalledElsewhere as refused:
        flag = "-n" if refused.parameter == "namespace" else "--istio-namespace"
        again = fix_command("precheck", {refused.parameter: refused.found})
        first = " (or uninstall it first)" if command == "install" else ""
        return CheckResult(INSTALL_NAMESPACES_CHECK, "fail", f"{refused.problem}: {command} would refuse it",
                           f"pass {flag} {refused.found}{first}: `{again}`")
    if reads.refused:
        return not_checked(INSTALL_NAMESPACES_CHECK, reads.refused, f"look for an install in other namespaces "
                           f"than -n {namespace}, --istio-namespace {istio_namespace}")
    return CheckResult(INSTALL_NAMESPACES_CHECK, "pass", f"none found in other namespaces than -n {namespace}, "
                                                       f"--istio-namespace {istio_namespace}")


NAMESPACE_OPEN_CHECK = "namespace not being deleted"


def check_namespace_not_terminating(client: KubeClient, namespace: str) -> CheckResult:
    """Would install refuse ``namespace`` for being deleted (Terminating: a finalizer holds
    it; the API server takes no new object there)? What holds it (its conditions) and the
    command that shows it, as install's own refusal (kmeshctl.install.NamespaceTerminating)."""
    from kmeshctl.namespaces import terminating_why

    current = client.get("v1", "Namespace", namespace)
    if current is None:
        return CheckResult(NAMESPACE_OPEN_CHECK, "pass", f"namespace {namespace} does not exist: install creates it")
    why = terminating_why(current)
    if why is None:
        return CheckResult(NAMESPACE_OPEN_CHECK, "pass", f"namespace {namespace} is not being deleted")
    return CheckResult(NAMESPACE_OPEN_CHECK, "fail", f"namespace {namespace} is being deleted ({why}): install "
                                                     "refuses it until it is gone",
                       f"`kubectl get namespace {namespace} -o yaml` shows what holds it; once it is gone, install "
                       "creates it again")


POD_SECURITY_CHECK = "Pod Security level"


def check_pod_security(client: KubeClient, namespace: str) -> CheckResult:
    """Would install run its agent pods in ``namespace``? A namespace of the user's that
    enforces a Pod Security level but privileged is refused by install (its check,
    kmeshctl.apply.pod_security_refusal, with its fix); its own namespace install labels
    privileged. No level set: the cluster's default, which no API shows."""
    current = client.get("v1", "Namespace", namespace)
    if current is None:
        return CheckResult(POD_SECURITY_CHECK, "pass", f"namespace {namespace} does not exist: install creates it "
                                                       f"with {PSA_ENFORCE}={PSA_NEEDED}")
    if made_by_kmeshctl(current):
        return CheckResult(POD_SECURITY_CHECK, "pass", f"namespace {namespace} is kmeshctl's: install labels it "
                                                       f"{PSA_ENFORCE}={PSA_NEEDED}")
    refused = pod_security_refusal(current)
    if refused is not None:
        problem, fix = refused
        return CheckResult(POD_SECURITY_CHECK, "fail", f"{problem}: install would refuse it", fix)
    level = (current["metadata"].get("labels") or {}).get(PSA_ENFORCE)
    enforced = f"enforces {level}" if level else "enforces no level (the cluster's default applies)"
    return CheckResult(POD_SECURITY_CHECK, "pass", f"namespace {namespace} (not made by kmeshctl) {enforced}")


ENROLLED_CHECK = "namespace in no data plane"


def check_not_enrolled(client: KubeClient, namespace: str) -> CheckResult:
    """Would install refuse ``namespace`` for being enrolled in a data plane (its
    istio.io/dataplane-mode label; kmesh's own pods must not be redirected)? install's
    own check and fix (kmeshctl.apply.enrolled_refusal), whoever made the namespace."""
    from kmeshctl.enrollment import MODE_LABEL

    current = client.get("v1", "Namespace", namespace)
    if current is None:
        return CheckResult(ENROLLED_CHECK, "pass", f"namespace {namespace} does not exist: install creates it "
                                                   "without a data plane label")
    refused = enrolled_refusal(current)
    if refused is not None:
        problem, fix = refused
        return CheckResult(ENROLLED_CHECK, "fail", f"{problem}: install would refuse it", fix)
    value = (current["metadata"].get("labels") or {}).get(MODE_LABEL)
    return CheckResult(ENROLLED_CHECK, "pass", f"namespace {namespace} " +
                       (f"opted out ({MODE_LABEL}={value})" if value else f"has no {MODE_LABEL} label"))


FOREIGN_CHECK = "objects install would write"


def check_foreign_objects(client: KubeClient, namespace: str, istio_namespace: str) -> CheckResult:
    """Would install refuse an object it writes that exists and kmeshctl did not make?
    install's own finder and fix (kmeshctl.apply.foreign_objects, delete_fix)."""
    foreign = foreign_objects(client, installed_objects(namespace, istio_namespace))
    if foreign:
        return CheckResult(FOREIGN_CHECK, "fail", f"{foreign_problem(foreign)}: install would refuse "
                                                  f"{'it' if len(foreign) == 1 else 'them'}",
                           delete_fix(foreign, namespace))
    return CheckResult(FOREIGN_CHECK, "pass", "none exists that kmeshctl did not make")


def check_permissions(client: KubeClient, namespace: str, istio_namespace: str,
                      verbs: tuple[str, ...] = INSTALL_VERBS, command: str = "install",
                      lists: tuple[tuple[str, str, str], ...] = (),
                      kubernetes_version: Optional[str] = None) -> CheckResult:
    """May this user ``verbs`` every object install creates (and ``lists``: (verb, group,
    resource) in every namespace), as ``command`` does? One SelfSubjectAccessReview each.
    ``kubernetes_version``: the cluster's (install renders at it): the objects it leaves
    out are not asked for; None: every object."""
    name = f"permissions to {command}"
    denied, unchecked, checked = [], [], 0
    left = set(left_out_at(kubernetes_version)) if kubernetes_version else set()
    for obj in installed_objects(namespace, istio_namespace):
        if f"{obj['kind']} {obj['metadata']['name']}" in left:
            continue
        if not client.is_served(obj["apiVersion"], obj["kind"]):
            unchecked.append(obj["kind"])  # the CRD check says why
            continue
        checked += 1
        kind = client.kind(obj["apiVersion"], obj["kind"])
        obj_namespace = obj["metadata"].get("namespace", "")
        for verb in verbs:
            if not can_i(client, verb, kind.group, kind.plural, obj_namespace):
                denied.append(_permission(verb, kind.group, kind.plural, obj_namespace))
    denied += [_permission(verb, group, resource, "", "in every namespace") for verb, group, resource in lists
               if not can_i(client, verb, group, resource, "")]
    verbs_text = "/".join(verbs)
    if denied:
        return CheckResult(name, "fail", "denied: " + ", ".join(dict.fromkeys(denied)),
                           f"ask a cluster admin for these permissions (e.g. bind cluster-admin for the {command})")
    if not checked:
        return CheckResult(name, "fail", f"not checked: the cluster serves none of the kinds {command} "
                                         f"{'creates' if command == 'install' else 'deletes'}",
                           "fix the failed checks above, then re-run")
    if unchecked:
        istio = {kind for _, kind, _ in ISTIO_KINDS}
        return CheckResult(name, "warn", "not checked for " + ", ".join(dict.fromkeys(unchecked)) +
                           f" (not served); may {verbs_text} every other object install creates",
                           "fix the Istio CRDs check above, then re-run" if set(unchecked) <= istio else
                           "the cluster must serve them for the install (see the checks above)")
    return CheckResult(name, "pass", f"may {verbs_text} every object install creates")


def _cluster_version(client: KubeClient) -> str:
    """The version install renders at on this cluster (its own, clamped as install clamps it)."""
    from kmeshctl.demo_cluster import validation_version

    return validation_version(client)


def _permission(verb: str, group: str, plural: str, namespace: str, everywhere: str = "") -> str:
    """`create daemonsets.apps in kmesh-system`: one permission, as kubectl auth can-i names it."""
    resource = f"{plural}.{group}" if group else plural
    return f"{verb} {resource}" + (f" in {namespace}" if namespace else f" {everywhere}" if everywhere else "")


def can_i(client: KubeClient, verb: str, group: str, resource: str, namespace: str) -> bool:
    review = {
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": verb, "group": group, "resource": resource,
                                        "namespace": namespace}},
    }
    answer = client.create("authorization.k8s.io/v1", "SelfSubjectAccessReview", review)
    if not isinstance(answer.get("status"), dict):  # never counted as allowed: it was not checked
        raise KmeshctlError(f"the SelfSubjectAccessReview for {verb} {resource} came back without a status")
    return bool(answer["status"].get("allowed"))


def passed(results: list[CheckResult]) -> bool:
    return all(r.status != "fail" for r in results)


def to_json(results: list[CheckResult]) -> dict:
    """`{"ok", "checks": [{"name", "status", "detail", "fix"}]}`: a check with no fix has
    `"fix": null`, as `node preflight -o json`."""
    return {"ok": passed(results), "checks": [{**asdict(r), "fix": r.fix or None} for r in results]}
