"""Render the install manifests from the templates in templates/ (jinja2).

The objects come out in apply order: each one only needs objects before it (or the
Istio namespace, which Istio owns).
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import TYPE_CHECKING

import yaml

import kmeshctl
from kmeshctl.errors import KmeshctlError
from kmeshctl.maps import DEFAULT_BPF_FS
from kmeshctl.params import InstallParams, check_install_params, normalize_kubernetes_version
from kmeshctl.paths import templates_dir

if TYPE_CHECKING:
    import jinja2

# Templates in dependency (apply) order.
TEMPLATES = (
    "namespace.yaml.j2",
    "serviceaccount.yaml.j2",
    "rbac.yaml.j2",
    "daemonset.yaml.j2",
    "envoyfilters.yaml.j2",
)

DAEMONSET_NAME = "kmesh"
SERVICE_ACCOUNT_NAME = "kmesh"
CLUSTER_ROLE_NAME = "kmesh"
CLUSTER_ROLE_BINDING_NAME = "kmesh"
# A ValidatingAdmissionPolicy keeps the agent's pod patches to pods on its own node
# (admissionregistration.k8s.io/v1 and the token's node-name claim: Kubernetes >= 1.30).
POD_PATCH_POLICY_NAME = "kmesh-pod-patch-own-node"
POD_PATCH_POLICY_SINCE = (1, 30)
POD_PATCH_POLICY_API = "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy"  # what the cluster must serve

ADMIN_PORT = 15200
# Inside the agent's container: state-changing admin actions, root only (kubectl exec).
ADMIN_SOCKET = "/var/run/kmesh/admin.sock"
METRICS_PORT = 15020
WAYPOINT_KMESH_PORT = 15019

# On every object kmeshctl renders, so uninstall/status can find them.
MANAGED_BY_LABEL = ("app.kubernetes.io/managed-by", "kmeshctl")
COMMON_LABELS = {
    MANAGED_BY_LABEL[0]: MANAGED_BY_LABEL[1],
    "app.kubernetes.io/part-of": "kmeshctl",
    "app.kubernetes.io/version": kmeshctl.__version__,
}
MANAGED_BY_SELECTOR = f"{MANAGED_BY_LABEL[0]}={MANAGED_BY_LABEL[1]}"
NOT_OURS = "not made by kmeshctl"  # an object of one of kmeshctl's names without its label


def template_image(daemonset: dict) -> str:
    """The image(s) of ``daemonset``'s pod template (`a, b` for several containers)."""
    spec = (((daemonset.get("spec") or {}).get("template") or {}).get("spec") or {})
    return ", ".join(c.get("image", "") for c in spec.get("containers") or [])


def made_by_kmeshctl(obj: dict | None) -> bool:
    """``obj`` (as read from the cluster) carries kmeshctl's managed-by label: kmeshctl
    made it, so it may change or delete it. Any other object is the user's (or another
    tool's), whatever its name: kmeshctl never deletes, overwrites or adopts it."""
    labels = ((obj or {}).get("metadata") or {}).get("labels") or {}
    return labels.get(MANAGED_BY_LABEL[0]) == MANAGED_BY_LABEL[1]

WAYPOINT_LABEL = ("gateway.istio.io/managed", "istio.io-mesh-controller")
ORIGINAL_DST_CLUSTER = "kmesh_original_dst_cluster"


def render_manifests(p: InstallParams) -> list[dict]:
    """The install's objects, in apply order, as dicts (checks `p` first)."""
    return parse_manifests(render_yaml(p))


def render_yaml(p: InstallParams) -> str:
    """The install's objects as one multi-document YAML text, with the templates'
    comments (why each rule, mount, setting exists); checks `p` first."""
    check_install_params(p)
    env = _environment()
    context = _template_context(p)
    return "---\n".join(_render_template(env, name, context) for name in TEMPLATES)


def parse_manifests(text: str) -> list[dict]:
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as err:
        raise KmeshctlError(f"templates render invalid YAML: {' '.join(str(err).split())}") from err
    return [doc for doc in documents if doc is not None]


def _environment() -> jinja2.Environment:
    import jinja2  # when used: the node agent shares the CLI's process and never renders

    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def _template_context(p: InstallParams) -> dict:
    return {
        "p": p,
        "names": SimpleNamespace(
            daemonset=DAEMONSET_NAME,
            service_account=SERVICE_ACCOUNT_NAME,
            cluster_role=CLUSTER_ROLE_NAME,
            cluster_role_binding=CLUSTER_ROLE_BINDING_NAME,
            pod_patch_policy=POD_PATCH_POLICY_NAME,
        ),
        "pod_patch_policy": normalized_version(p.kubernetes_version) >= POD_PATCH_POLICY_SINCE,
        "ports": SimpleNamespace(admin=ADMIN_PORT, metrics=METRICS_PORT, waypoint=WAYPOINT_KMESH_PORT),
        # Where the agent finds host resources inside its container.
        # The node's bpffs is mounted at /sys/fs/bpf; the agent pins in its kmesh/ directory,
        # the default of `node run`, `node cleanup` and `dump maps` on the node alike.
        "paths": SimpleNamespace(bpffs="/sys/fs/bpf", pins=str(DEFAULT_BPF_FS), cgroup2="/host/sys/fs/cgroup",
                                 admin_socket=ADMIN_SOCKET),
        "waypoint_label": SimpleNamespace(key=WAYPOINT_LABEL[0], value=WAYPOINT_LABEL[1]),
        "original_dst_cluster": ORIGINAL_DST_CLUSTER,
        "common_labels": _common_labels_yaml,
    }


def left_out(p: InstallParams) -> list[str]:
    """The objects of the full install that ``p``'s --kubernetes-version leaves out, as
    `Kind name` (left_out_at)."""
    return left_out_at(p.kubernetes_version)


def left_out_at(kubernetes_version: str) -> list[str]:
    """The objects of the full install that ``kubernetes_version`` leaves out, as `Kind
    name`: before 1.30 the pod-patch policy and its binding (the guard needs
    admissionregistration.k8s.io/v1 and the token's node-name claim); [] from 1.30."""
    if normalized_version(kubernetes_version) >= POD_PATCH_POLICY_SINCE:
        return []
    kinds = ("ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding")
    return [f"{kind} {POD_PATCH_POLICY_NAME}" for kind in kinds]


def normalized_version(text: str) -> tuple[int, int]:
    """A --kubernetes-version (`1.30`, `v1.30.2`) as (major, minor)."""
    major, minor = normalize_kubernetes_version(text).split(".")[:2]
    return int(major), int(minor)


def _render_template(env: jinja2.Environment, name: str, context: dict) -> str:
    import jinja2

    try:
        text = env.get_template(name).render(context)
    except jinja2.TemplateError as err:
        raise KmeshctlError(f"template {name}: {err} (broken install? reinstall kmeshctl)") from err
    return text if text.endswith("\n") else text + "\n"


def _common_labels_yaml(indent: int) -> str:
    """The COMMON_LABELS as YAML mapping lines, for `{{ common_labels(N) }}` in templates."""
    pad = " " * indent
    return "\n".join(f"{pad}{key}: {json.dumps(value)}" for key, value in COMMON_LABELS.items())
