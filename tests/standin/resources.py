"""The kinds the stand-in API server serves, its errors (as `Status` objects) and the
small helpers every part shares."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional

TOKEN = "standin-token"
Key = tuple[str, str, str, str]  # (group, plural, namespace, name)


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


NAMESPACE = Resource("", "v1", "Namespace", "namespaces", False)
POD = Resource("", "v1", "Pod", "pods", True)
SERVICE = Resource("", "v1", "Service", "services", True)
DAEMONSET = Resource("apps", "v1", "DaemonSet", "daemonsets", True)
DEPLOYMENT = Resource("apps", "v1", "Deployment", "deployments", True)
REPLICASET = Resource("apps", "v1", "ReplicaSet", "replicasets", True)

BUILTIN = [
    NAMESPACE,
    Resource("", "v1", "Node", "nodes", False),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True),
    SERVICE,
    POD,
    Resource("", "v1", "ConfigMap", "configmaps", True),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", True),
    DAEMONSET,
    DEPLOYMENT,
    REPLICASET,
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Resource("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations",
             False),  # Istio's revision tags are these (istio.io/tag)
    Resource("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies", False),
    Resource("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding",
             "validatingadmissionpolicybindings", False),
    Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    Resource("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False),
]
# Subresources listed by discovery (name -> verbs), as the real server lists them.
SUBRESOURCES = {
    "DaemonSet": {"status": ["get", "patch", "update"]},
    "Deployment": {"status": ["get", "patch", "update"]},
    "Namespace": {"status": ["get", "patch", "update"]},
    "Pod": {"status": ["get", "patch", "update"], "exec": ["create", "get"], "portforward": ["create", "get"]},
}
OBJECT_VERBS = ["create", "delete", "get", "list", "patch", "update", "watch"]


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class HttpError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: Optional[dict] = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        return status_failure(self.code, self.reason, self.message, self.details)


def status_failure(code: int, reason: str, message: str, details: Optional[dict] = None) -> dict:
    status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
              "message": message, "reason": reason, "code": code}
    if details:
        status["details"] = details
    return status


def not_found(res: Resource, name: str) -> HttpError:
    return HttpError(404, "NotFound", f'{res.plural}{"." + res.group if res.group else ""} "{name}" not found',
                     {"name": name, "kind": res.plural, **({"group": res.group} if res.group else {})})


TRUE_VALUES = ("1", "t", "T", "true", "TRUE", "True")
FALSE_VALUES = ("0", "f", "F", "false", "FALSE", "False", "")


def parse_bool(text: Optional[str]) -> bool:
    """Query-string booleans as the real server parses them (Go's strconv.ParseBool)."""
    if text is None or text in FALSE_VALUES:
        return False
    if text in TRUE_VALUES:
        return True
    raise HttpError(400, "BadRequest", f'strconv.ParseBool: parsing "{text}": invalid syntax')
