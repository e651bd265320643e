"""A stand-in Kubernetes API server for the tests.

No Kubernetes API server can run here, so the tests start this one: a real HTTPS server
(in a thread on 127.0.0.1, random port) that behaves like the real API for what kmeshctl
and its node agent use. One module per concern:

- `resources`: served kinds (core, apps incl. Deployment/ReplicaSet, EndpointSlice, RBAC,
  CRDs, access reviews), `Status` errors;
- `server`: the state and verbs: get / list (label and field selectors) / create /
  replace / delete, server-side apply with field ownership and real-format 409 conflicts,
  merge patches, `dryRun=All` (a DELETE with a body: only the body's, as kube-apiserver),
  a validating-admission hook, namespace termination, the
  garbage collector, discovery (custom resource groups come from the stored CRDs), a
  request log, SelfSubjectAccessReview, bearer-token authentication;
- `watch`: `?watch=1` streams with resourceVersion, selectors, bookmarks, timeouts and
  410 Gone after compaction; list responses carry the collection resourceVersion;
- `controllers`: ClusterIP allocation, and DaemonSet / Deployment controllers whose pods
  become ready or get stuck;
- `websocket`, `streams`, `kubelet`: `pods/exec` and `pods/portforward` over WebSocket as
  the `kubernetes` Python client speaks them, run by a backend the test gives each pod
  (a real podnet pod, or the host network for a hostNetwork pod);
- `frontend`: the HTTP routing; `fixtures`: seeded clusters and pytest fixtures;
- `tls`: HTTPS, as kube-apiserver serves (kubectl sends no credentials to an http://
  server): a per-process self-signed certificate for 127.0.0.1 and localhost, its own CA
  (the kubeconfigs' certificate-authority-data), and connections several threads share.

Simplifications, on purpose: lists in apply are atomic (no merge keys), custom resources
are not validated against their CRD schema, strategic merge patch is handled as merge
patch, lists are not paginated (limit/continue are not served), pods are deleted at once
(no grace period) unless a test sets `pod_stop_s` (Terminating that long, the DaemonSet
controller's replacement with `daemon_pod_start_s`), a watch from a future resourceVersion simply waits for it, and there
is no RBAC beyond the access-review answers.
"""

from .controllers import IpAllocator
from .fields import owned_paths
from .fixtures import (ISTIO_CRD_NAMES, ISTIO_CRDS_FILE, CliResult, StandinCluster, app_pod, cluster, core_v1_client,
                       istio_crds, istiod_service, load_crds, make_cluster, namespace, node, seeded_server,
                       start_cluster)
from .kubelet import HostNetworkBackend, PodBackend, PodnetBackend
from .resources import BUILTIN, TOKEN, HttpError, Resource, now
from .selectors import parse_field_selector, parse_label_selector
from .server import Request, StandinApiServer

__all__ = [
    "core_v1_client",
    "BUILTIN", "ISTIO_CRDS_FILE", "ISTIO_CRD_NAMES", "TOKEN", "CliResult", "HostNetworkBackend", "HttpError",
    "IpAllocator", "PodBackend", "PodnetBackend", "Request", "Resource", "StandinApiServer", "StandinCluster",
    "app_pod", "cluster", "istio_crds", "istiod_service", "load_crds", "make_cluster", "namespace", "node",
    "now", "owned_paths", "parse_field_selector", "parse_label_selector", "seeded_server", "start_cluster",
]
