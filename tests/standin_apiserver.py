"""A stand-in API server for the cluster-command tests.

No Kubernetes API server can run here, so the tests start this one: a real HTTP server
(http.server in a thread on 127.0.0.1, random port) that behaves like the real API for
what the kmeshctl commands use:

- `/version` and discovery (`/api`, `/api/v1`, `/apis`, `/apis/<group>/<version>`); the
  groups of custom resources come from the CustomResourceDefinitions it stores, so a
  stand-in API server without the Istio CRDs does not serve `networking.istio.io`;
- get / list (labelSelector with `=`, `==`, `!=`, `in`, `notin`, existence, `!key`;
  fieldSelector on `metadata.name`, `metadata.namespace`, `spec.nodeName`, `status.phase`)
  / create / replace / delete;
- server-side apply (`PATCH` with `application/apply-patch+yaml`, `fieldManager`,
  `force`): create when absent, merge when changed (resourceVersion bumped, generation
  bumped on non-metadata changes), no-op when identical (resourceVersion unchanged),
  per-manager field ownership in `metadata.managedFields`, 409 Conflict when another
  manager owns a field set to a different value and force is false (worded like the real
  server, with one `FieldManagerConflict` cause per field in `details.causes`);
- `dryRun=All` on every write verb: the same checks and the same answer as the real
  write (201/200, the object that would be stored, 409 on conflicts, 404 for a create in a
  namespace that does not exist: the real server's NamespaceLifecycle admission runs on
  dry runs too), but nothing is stored and resourceVersion is not bumped (a dry-run
  create has none); the request log marks dry runs (`Request.dry_run`);
- a validating admission stage that can be told to reject an object (`deny_admission`),
  answering 422 Invalid like a ValidatingAdmissionPolicy, for dry runs too;
- merge-patch and strategic-merge-patch (handled as merge patch: enough for maps such as
  labels and annotations);
- `Status` objects for errors (404 NotFound, 409 AlreadyExists / Conflict, 422, 400, 401, 415);
- namespace deletion goes through `Terminating` and removes the namespace's objects a
  moment later; deleting a DaemonSet garbage-collects its pods;
- SelfSubjectAccessReview (allow all, or deny what `deny()` lists);
- bearer-token authentication with the token of the kubeconfig it writes.

Simplifications, on purpose: lists are atomic in apply (no merge keys), custom resources
are not validated against their CRD schema, there is no watch. A DaemonSet "controller"
can be switched on (`daemonset_controller = "ready" | "stuck"`) to simulate a rollout that
succeeds or pods that never become ready; tests can also set DaemonSet status directly.
"""

from __future__ import annotations

import copy
import json
import re
import socket
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple, Optional
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

TOKEN = "standin-token"
Key = tuple[str, str, str, str]  # (group, plural, namespace, name)
FieldPath = tuple[str, ...]


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


BUILTIN = [
    Resource("", "v1", "Namespace", "namespaces", False),
    Resource("", "v1", "Node", "nodes", False),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", True),
    Resource("", "v1", "Service", "services", True),
    Resource("", "v1", "Pod", "pods", True),
    Resource("", "v1", "ConfigMap", "configmaps", True),
    Resource("apps", "v1", "DaemonSet", "daemonsets", True),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    Resource("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    Resource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False),
    Resource("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False),
]
UNOWNED_METADATA = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                    "managedFields", "deletionTimestamp"}


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def load_crds(path: Path, names: Optional[set[str]] = None) -> list[dict]:
    """CRD objects from a multi-document YAML file (optionally only the named ones)."""
    with path.open() as handle:
        docs = [d for d in yaml.load_all(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) if d]
    return [d for d in docs if names is None or d["metadata"]["name"] in names]


class HttpError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: Optional[dict] = None) -> None:
        super().__init__(message)
        self.code, self.reason, self.message, self.details = code, reason, message, details

    def status(self) -> dict:
        status = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                  "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            status["details"] = self.details
        return status


class Request(NamedTuple):
    """One entry of the request log; `dry_run` when the request carried dryRun=All."""
    method: str
    path: str
    dry_run: bool = False


class StandinApiServer:
    """In-memory API state plus the HTTP front end (`url`, `write_kubeconfig`)."""

    def __init__(self, server_version: tuple[int, int] = (1, 30), crds: Optional[list[dict]] = None) -> None:
        self.server_version = server_version
        self.lock = threading.RLock()
        self.objects: dict[Key, dict] = {}
        self.owners: dict[Key, dict[str, dict[str, Any]]] = {}  # manager -> {op, apiVersion, time, paths}
        self.revision = 100
        self.denied: set[tuple[str, str, str]] = set()
        self.daemonset_controller: Optional[str] = None
        self.controller_delay = 0.2
        self.namespace_finalize_delay = 0.3
        self.requests: list[Request] = []
        self.admission_denials: dict[tuple[str, str], str] = {}  # (kind, name) -> message
        for crd in crds or []:
            self.put(crd)
        self._http: Optional[ThreadingHTTPServer] = None

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> "StandinApiServer":
        handler = type("Handler", (_Handler,), {"api": self})
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()

    @property
    def url(self) -> str:
        assert self._http is not None
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def write_kubeconfig(self, path: Path, context: str = "standin") -> Path:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "standin-user", "user": {"token": TOKEN}}],
            "contexts": [{"name": context, "context": {"cluster": "standin", "user": "standin-user"}}],
        }
        path.write_text(yaml.safe_dump(config))
        return path

    # -- test helpers ------------------------------------------------------------

    def put(self, obj: dict, manager: str = "test") -> dict:
        """Create or replace an object directly (like a controller or another user would)."""
        res = self.resource_for(obj["apiVersion"], obj["kind"])
        with self.lock:
            key = self.key(res, obj)
            if key in self.objects:
                return self.replace(res, key, obj, manager)
            return self.create(res, copy.deepcopy(obj), manager)

    def get(self, api_version: str, kind: str, name: str, namespace: str = "") -> Optional[dict]:
        res = self.resource_for(api_version, kind)
        with self.lock:
            found = self.objects.get((res.group, res.plural, namespace if res.namespaced else "", name))
            return copy.deepcopy(found)

    def all_of(self, api_version: str, kind: str) -> list[dict]:
        res = self.resource_for(api_version, kind)
        with self.lock:
            return [copy.deepcopy(o) for k, o in self.objects.items() if k[:2] == (res.group, res.plural)]

    def set_status(self, api_version: str, kind: str, name: str, namespace: str, status: dict) -> None:
        res = self.resource_for(api_version, kind)
        with self.lock:
            obj = self.objects[(res.group, res.plural, namespace, name)]
            obj["status"] = copy.deepcopy(status)
            self.bump(obj)

    def deny(self, verb: str, group: str, resource: str) -> None:
        self.denied.add((verb, group, resource))

    def deny_admission(self, kind: str, name: str, message: str) -> None:
        """Act like a ValidatingAdmissionPolicy that rejects every create/update of this object."""
        self.admission_denials[(kind, name)] = message

    def writes(self) -> list[Request]:
        """Requests that could change state (dry runs and access reviews never do)."""
        return [r for r in self.requests
                if r.method != "GET" and not r.dry_run and "selfsubjectaccessreviews" not in r.path]

    def dry_runs(self) -> list[Request]:
        return [r for r in self.requests if r.dry_run]

    # -- resources -----------------------------------------------------------------

    def served(self) -> list[Resource]:
        served = list(BUILTIN)
        with self.lock:
            crds = [o for k, o in self.objects.items() if k[1] == "customresourcedefinitions"]
        for crd in crds:
            spec = crd["spec"]
            for version in spec["versions"]:
                if version.get("served", True):
                    served.append(Resource(spec["group"], version["name"], spec["names"]["kind"],
                                           spec["names"]["plural"], spec["scope"] == "Namespaced"))
        return served

    def resource_for(self, api_version: str, kind: str) -> Resource:
        for res in self.served():
            if res.api_version == api_version and res.kind == kind:
                return res
        raise HttpError(404, "NotFound", f"no kind {kind!r} is registered for version {api_version!r}")

    def resource_by_plural(self, group: str, version: str, plural: str) -> Resource:
        for res in self.served():
            if (res.group, res.version, res.plural) == (group, version, plural):
                return res
        raise HttpError(404, "NotFound", "the server could not find the requested resource")

    @staticmethod
    def key(res: Resource, obj: dict) -> Key:
        meta = obj.get("metadata", {})
        return (res.group, res.plural, meta.get("namespace", "") if res.namespaced else "", meta.get("name", ""))

    # -- writes ----------------------------------------------------------------------

    def bump(self, obj: dict) -> None:
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)

    def create(self, res: Resource, obj: dict, manager: str, operation: str = "Update",
               dry_run: bool = False) -> dict:
        """Store a new object; a dry run answers the same (without a resourceVersion, which only
        storage assigns) and stores nothing."""
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise HttpError(422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value")
        if res.namespaced:
            namespace = meta.get("namespace") or ""
            if not namespace:
                raise HttpError(400, "BadRequest", "the namespace of the object is required")
            ns = self.objects.get(("", "namespaces", "", namespace))
            if ns is None:
                raise HttpError(404, "NotFound", f'namespaces "{namespace}" not found')
            if ns.get("metadata", {}).get("deletionTimestamp"):
                raise HttpError(403, "Forbidden", f"unable to create new content in namespace {namespace} "
                                "because it is being terminated")
        key = self.key(res, obj)
        if key in self.objects:
            raise HttpError(409, "AlreadyExists", f'{res.plural} "{meta["name"]}" already exists')
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        self.admit(res, obj)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        if res.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        owners = {manager: self.ownership(operation, res, owned_paths(obj))}
        if dry_run:
            meta["managedFields"] = managed_fields(owners)
            return obj
        self.bump(obj)
        self.owners[key] = owners
        self.objects[key] = obj
        self.render_managed_fields(key)
        self.after_write(res, obj)
        return obj

    def admit(self, res: Resource, obj: dict) -> None:
        """The validating-admission stage (runs for dry runs too, as on the real API server)."""
        name = obj["metadata"].get("name", "")
        denial = self.admission_denials.get((res.kind, name))
        if denial is not None:
            raise HttpError(422, "Invalid", f"{res.plural}.{res.group or 'core'} \"{name}\" is forbidden: "
                            f"ValidatingAdmissionPolicy 'standin-policy' with binding 'standin-binding' "
                            f"denied request: {denial}")

    def replace(self, res: Resource, key: Key, obj: dict, manager: str, dry_run: bool = False) -> dict:
        current = self.objects[key]
        new = copy.deepcopy(obj)
        new["apiVersion"], new["kind"] = res.api_version, res.kind
        for field in ("uid", "creationTimestamp", "generation", "resourceVersion"):
            new["metadata"][field] = current["metadata"].get(field)
        if "status" not in new and "status" in current:
            new["status"] = current["status"]
        ownership = {manager: self.ownership("Update", res, owned_paths(obj))}
        return self.commit(res, key, current, new, ownership, dry_run)

    def ownership(self, operation: str, res: Resource, paths: set[FieldPath]) -> dict:
        return {"operation": operation, "apiVersion": res.api_version, "time": now(), "paths": paths}

    def commit(self, res: Resource, key: Key, current: dict, new: dict, owners: dict,
               dry_run: bool = False) -> dict:
        """Store `new` unless it equals `current`; bump resourceVersion / generation as needed.

        A dry run answers the same but stores nothing and keeps the current resourceVersion
        (the real server's dry-run storage never reaches etcd, which assigns versions)."""
        self.admit(res, new)
        if _content(new) == _content(current) and all(
            self.owners[key].get(m, {}).get("paths") == o["paths"] for m, o in owners.items()
        ):
            return copy.deepcopy(current) if dry_run else current
        if _spec_part(new) != _spec_part(current):
            new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        merged = self.merged_owners(key, current, new, owners)
        if dry_run:
            new["metadata"]["managedFields"] = managed_fields(merged)
            return new
        self.owners[key] = merged
        self.bump(new)
        self.objects[key] = new
        self.render_managed_fields(key)
        self.after_write(res, new)
        return new

    def merged_owners(self, key: Key, current: dict, new: dict, owners: dict) -> dict:
        """The field owners after a write: the writers' entries replace theirs, and a field
        whose value the write changed leaves every other manager (a copy; nothing stored)."""
        merged = {m: {**o, "paths": set(o["paths"])} for m, o in self.owners[key].items()}
        for manager, ownership in owners.items():
            for other, theirs in merged.items():
                if other != manager and _content(new) != _content(current):
                    theirs["paths"] -= {p for p in ownership["paths"] if _value_at(new, p) != _value_at(current, p)}
            merged[manager] = ownership
        return {m: o for m, o in merged.items() if o["paths"]}

    def apply(self, res: Resource, key: Key, applied: dict, manager: str, force: bool,
              dry_run: bool = False) -> tuple[int, dict]:
        applied = copy.deepcopy(applied)
        applied.pop("status", None)
        current = self.objects.get(key)
        if current is None:
            return 201, self.create(res, applied, manager, operation="Apply", dry_run=dry_run)
        paths = owned_paths(applied)
        conflicts = sorted(
            (other, p) for other, theirs in self.owners[key].items() if other != manager
            for p in paths & theirs["paths"] if _value_at(applied, p) != _value_at(current, p)
        )
        if conflicts and not force:
            raise self.conflict_error(key, conflicts)
        new = copy.deepcopy(current)
        previous = self.owners[key].get(manager, {}).get("paths", set())
        others = set().union(*(o["paths"] for m, o in self.owners[key].items() if m != manager))
        for gone in previous - paths - others:
            _delete_at(new, gone)
        for path in paths:
            _set_at(new, path, copy.deepcopy(_value_at(applied, path)))
        return 200, self.commit(res, key, current, new, {manager: self.ownership("Apply", res, paths)}, dry_run)

    def conflict_error(self, key: Key, conflicts: list[tuple[str, FieldPath]]) -> HttpError:
        """409 as the real API server words it: one cause per field (reason FieldManagerConflict),
        and a message that spans several lines when there are several conflicts."""
        def who(manager: str) -> str:
            entry = self.owners[key][manager]  # appliers are named alone, updaters with their apiVersion
            return f'"{manager}"' if entry["operation"] == "Apply" else f'"{manager}" using {entry["apiVersion"]}'

        fields = {(m, "." + ".".join(p)) for m, p in conflicts}
        causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {who(m)}", "field": f}
                  for m, f in sorted(fields)]
        if len(causes) == 1:
            message = f"Apply failed with 1 conflict: {causes[0]['message']}: {causes[0]['field']}"
        else:
            lines = []
            for manager in sorted({m for m, _ in fields}):
                lines.append(f"conflicts with {who(manager)}:")
                lines.extend(f"- {f}" for m, f in sorted(fields) if m == manager)
            message = f"Apply failed with {len(causes)} conflicts: " + "\n".join(lines)
        return HttpError(409, "Conflict", message, {"causes": causes})

    def merge_patch(self, res: Resource, key: Key, patch: dict, manager: str, dry_run: bool = False) -> dict:
        current = self.objects.get(key)
        if current is None:
            raise HttpError(404, "NotFound", f'{res.plural} "{key[3]}" not found')
        new = _merge(copy.deepcopy(current), patch)
        mine = set(self.owners[key].get(manager, {}).get("paths", set())) | owned_paths(_drop_nulls(patch))
        mine = {p for p in mine if _value_at(new, p) is not _MISSING}
        return self.commit(res, key, current, new, {manager: self.ownership("Update", res, mine)}, dry_run)

    def delete(self, res: Resource, key: Key, dry_run: bool = False) -> dict:
        obj = self.objects.get(key)
        if obj is None:
            raise HttpError(404, "NotFound", f'{res.plural} "{key[3]}" not found')
        if dry_run:
            return copy.deepcopy(obj)
        if res.kind == "Namespace":
            if not obj["metadata"].get("deletionTimestamp"):
                obj["metadata"]["deletionTimestamp"] = now()
                obj["status"] = {"phase": "Terminating"}
                self.bump(obj)
                threading.Timer(self.namespace_finalize_delay, self.finalize_namespace, [key[3]]).start()
            return copy.deepcopy(obj)
        self.remove(key)
        if res.kind == "DaemonSet":
            self.collect_dependents(obj["metadata"]["uid"])
        return copy.deepcopy(obj)

    def remove(self, key: Key) -> None:
        self.objects.pop(key, None)
        self.owners.pop(key, None)

    def finalize_namespace(self, name: str) -> None:
        with self.lock:
            for key in [k for k in self.objects if k[2] == name or k == ("", "namespaces", "", name)]:
                self.remove(key)

    def collect_dependents(self, owner_uid: str) -> None:
        for key, obj in list(self.objects.items()):
            if any(ref.get("uid") == owner_uid for ref in obj["metadata"].get("ownerReferences", [])):
                self.remove(key)

    def render_managed_fields(self, key: Key) -> None:
        self.objects[key]["metadata"]["managedFields"] = managed_fields(self.owners[key])

    # -- simulated controllers -----------------------------------------------------------

    def after_write(self, res: Resource, obj: dict) -> None:
        if res.kind == "DaemonSet" and self.daemonset_controller:
            args = [obj["metadata"]["namespace"], obj["metadata"]["name"]]
            threading.Timer(self.controller_delay, self.run_daemonset_controller, args).start()

    def run_daemonset_controller(self, namespace: str, name: str) -> None:
        """What the DaemonSet controller and kubelets would do: one pod per node, then status."""
        with self.lock:
            ds = self.objects.get(("apps", "daemonsets", namespace, name))
            if ds is None or ds.get("status", {}).get("observedGeneration") == ds["metadata"]["generation"]:
                return
            nodes = [o for k, o in self.objects.items() if k[1] == "nodes"]
            ready = self.daemonset_controller == "ready"
            for node in nodes:
                pod = _daemon_pod(ds, node["metadata"]["name"], ready)
                key = self.key(BUILTIN[4], pod)
                self.remove(key)
                self.create(BUILTIN[4], pod, "kubelet")
            count = len(nodes)
            ds["status"] = {
                "observedGeneration": ds["metadata"]["generation"], "desiredNumberScheduled": count,
                "currentNumberScheduled": count, "updatedNumberScheduled": count,
                "numberReady": count if ready else 0, "numberAvailable": count if ready else 0,
                "numberUnavailable": 0 if ready else count, "numberMisscheduled": 0,
            }
            self.bump(ds)

    # -- reads -----------------------------------------------------------------------------

    def list(self, res: Resource, namespace: str, labels: str, fields: str) -> dict:
        label_match = parse_label_selector(labels)
        field_match = parse_field_selector(fields)
        items = [
            copy.deepcopy(o) for k, o in sorted(self.objects.items())
            if k[:2] == (res.group, res.plural) and (not namespace or k[2] == namespace)
            and label_match(o["metadata"].get("labels") or {}) and field_match(o)
        ]
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(self.revision)}, "items": items}

    def access_review(self, review: dict) -> dict:
        attrs = review.get("spec", {}).get("resourceAttributes", {})
        denied = (attrs.get("verb", ""), attrs.get("group", ""), attrs.get("resource", "")) in self.denied
        review = copy.deepcopy(review)
        review["status"] = {"allowed": not denied}
        if denied:
            review["status"]["reason"] = "denied by the stand-in API server's test policy"
        return review

    def discovery(self, parts: list[str]) -> dict:
        served = self.served()
        if parts == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        if parts == ["apis"]:
            groups: dict[str, list[str]] = {}
            for res in served:
                if res.group and res.version not in groups.setdefault(res.group, []):
                    groups[res.group].append(res.version)
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                 "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}}
                for g, vs in groups.items()]}
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        mine = [r for r in served if (r.group, r.version) == (group, version)]
        if not mine:
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        resources = []
        for res in mine:
            resources.append({"name": res.plural, "singularName": res.kind.lower(), "namespaced": res.namespaced,
                              "kind": res.kind, "verbs": ["create", "delete", "get", "list", "patch", "update"]})
            if res.kind in ("DaemonSet", "Pod", "Namespace"):
                resources.append({"name": f"{res.plural}/status", "singularName": "", "namespaced": res.namespaced,
                                  "kind": res.kind, "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": resources}


# -- HTTP front end -------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    api: StandinApiServer
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add 40 ms each.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self.handle_verb("GET")

    def do_POST(self) -> None:
        self.handle_verb("POST")

    def do_PUT(self) -> None:
        self.handle_verb("PUT")

    def do_PATCH(self) -> None:
        self.handle_verb("PATCH")

    def do_DELETE(self) -> None:
        self.handle_verb("DELETE")

    def handle_verb(self, method: str) -> None:
        url = urlsplit(self.path)
        values = parse_qs(url.query)
        query = {k: v[0] for k, v in values.items()}
        dry_run = values.get("dryRun", []) == ["All"]
        self.api.requests.append(Request(method, url.path, dry_run))
        try:
            body = self.read_body()
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                raise HttpError(401, "Unauthorized", "Unauthorized")
            if "dryRun" in values and not dry_run:
                raise HttpError(400, "BadRequest", f"invalid dry run value: {values['dryRun']} (only All is valid)")
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            with self.api.lock:
                code, payload = self.route(method, parts, query, body, dry_run)
        except HttpError as err:
            code, payload = err.code, err.status()
        self.send_json(code, payload)

    def read_body(self) -> Optional[Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if not length:
            return None
        raw = self.rfile.read(length)
        try:
            return yaml.safe_load(raw)  # JSON is YAML too
        except yaml.YAMLError as err:
            raise HttpError(400, "BadRequest", f"cannot decode body: {err}") from err

    def send_json(self, code: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, method: str, parts: list[str], query: dict, body: Any, dry_run: bool) -> tuple[int, dict]:
        api = self.api
        if parts == ["version"]:
            major, minor = api.server_version
            return 200, {"major": str(major), "minor": str(minor), "gitVersion": f"v{major}.{minor}.3",
                         "platform": "linux/amd64"}
        if parts in (["api"], ["apis"]) or (parts[0] == "api" and len(parts) == 2) or (
                parts[0] == "apis" and len(parts) == 3):
            if method != "GET":
                raise HttpError(405, "MethodNotAllowed", "the server does not allow this method")
            return 200, api.discovery(parts)
        if parts[0] == "api" and len(parts) > 2:
            group, version, rest = "", parts[1], parts[2:]
        elif parts[0] == "apis" and len(parts) > 3:
            group, version, rest = parts[1], parts[2], parts[3:]
        else:
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        namespace = ""
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        res = api.resource_by_plural(group, version, rest[0])
        name = rest[1] if len(rest) > 1 else ""
        if len(rest) > 2:
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        if name:
            return self.on_object(method, res, namespace, name, query, body, dry_run)
        return self.on_collection(method, res, namespace, query, body, dry_run)

    def on_collection(self, method: str, res: Resource, namespace: str, query: dict, body: Any,
                      dry_run: bool) -> tuple[int, dict]:
        api = self.api
        if method == "GET":
            return 200, api.list(res, namespace, query.get("labelSelector", ""), query.get("fieldSelector", ""))
        if method != "POST":
            raise HttpError(405, "MethodNotAllowed", "the server does not allow this method on the collection")
        if not isinstance(body, dict):
            raise HttpError(400, "BadRequest", "the request body must be an object")
        if res.kind == "SelfSubjectAccessReview":
            return 201, api.access_review(body)
        check_body_matches(res, body, namespace, None)
        if res.namespaced:
            body.setdefault("metadata", {})["namespace"] = namespace or body["metadata"].get("namespace", "")
        return 201, api.create(res, copy.deepcopy(body), query.get("fieldManager", "unknown"), dry_run=dry_run)

    def on_object(self, method: str, res: Resource, namespace: str, name: str, query: dict,
                  body: Any, dry_run: bool) -> tuple[int, dict]:
        api = self.api
        key = (res.group, res.plural, namespace, name)
        if method == "GET":
            if key not in api.objects:
                raise HttpError(404, "NotFound", f'{res.plural}.{res.group or "core"} "{name}" not found')
            return 200, copy.deepcopy(api.objects[key])
        if method == "DELETE":
            return 200, api.delete(res, key, dry_run)
        if not isinstance(body, dict):
            raise HttpError(400, "BadRequest", "the request body must be an object")
        if method == "PUT":
            check_body_matches(res, body, namespace, name)
            if key not in api.objects:
                raise HttpError(404, "NotFound", f'{res.plural} "{name}" not found')
            sent_version = body.get("metadata", {}).get("resourceVersion")
            if sent_version and sent_version != api.objects[key]["metadata"]["resourceVersion"]:
                raise HttpError(409, "Conflict", "the object has been modified; please apply your changes "
                                "to the latest version and try again")
            return 200, api.replace(res, key, body, query.get("fieldManager", "unknown"), dry_run)
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type == "application/apply-patch+yaml":
            manager = query.get("fieldManager")
            if not manager:
                raise HttpError(400, "BadRequest", "PATCH requests of type apply require fieldManager")
            check_body_matches(res, body, namespace, name)
            return api.apply(res, key, body, manager, query.get("force") == "true", dry_run)
        if content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            return 200, api.merge_patch(res, key, body, query.get("fieldManager", "unknown"), dry_run)
        raise HttpError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format "
                        f"- accepted media types include: application/json-patch+json, application/merge-"
                        f"patch+json, application/apply-patch+yaml (got {content_type!r})")


def check_body_matches(res: Resource, body: dict, namespace: str, name: Optional[str]) -> None:
    if body.get("apiVersion") != res.api_version or body.get("kind") != res.kind:
        raise HttpError(400, "BadRequest", f"the body is {body.get('kind')} {body.get('apiVersion')}, "
                        f"the URL is {res.kind} {res.api_version}")
    meta = body.get("metadata") or {}
    if name is not None and meta.get("name") != name:
        raise HttpError(400, "BadRequest", "the name of the object does not match the name on the URL")
    if res.namespaced and meta.get("namespace") and meta["namespace"] != namespace:
        raise HttpError(400, "BadRequest", "the namespace of the provided object does not match the "
                        "namespace sent on the request")


# -- selectors -------------------------------------------------------------------------------

_SET_TERM = re.compile(r"^\s*([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ_TERM = re.compile(r"^\s*([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)\s*$")
_EXISTS_TERM = re.compile(r"^\s*(!?)\s*([\w./-]+)\s*$")


def parse_label_selector(text: str):
    terms = [t for t in re.split(r",(?![^()]*\))", text or "") if t.strip()]
    checks = [_label_term(t) for t in terms]
    return lambda labels: all(check(labels) for check in checks)


def _label_term(term: str):
    if m := _SET_TERM.match(term):
        key, op, values = m.group(1), m.group(2), {v.strip() for v in m.group(3).split(",")}
        if op == "in":
            return lambda labels: labels.get(key) in values
        return lambda labels: labels.get(key) not in values
    if m := _EQ_TERM.match(term):
        key, op, value = m.groups()
        if op == "!=":
            return lambda labels: labels.get(key) != value
        return lambda labels: labels.get(key) == value
    if m := _EXISTS_TERM.match(term):
        negate, key = m.groups()
        return lambda labels: (key in labels) != bool(negate)
    raise HttpError(400, "BadRequest", f"unable to parse requirement: {term!r}")


_FIELDS = {"metadata.name", "metadata.namespace", "spec.nodeName", "status.phase"}


def parse_field_selector(text: str):
    checks = []
    for term in [t for t in (text or "").split(",") if t.strip()]:
        m = _EQ_TERM.match(term)
        if not m or m.group(1) not in _FIELDS:
            raise HttpError(400, "BadRequest", f'field label not supported: "{term}"')
        path, op, value = tuple(m.group(1).split(".")), m.group(2), m.group(3)
        checks.append((path, op == "!=", value))
    return lambda obj: all((str(_value_at(obj, p) if _value_at(obj, p) is not _MISSING else "") == v) != neg
                           for p, neg, v in checks)


# -- field paths ----------------------------------------------------------------------------

_MISSING = object()


def owned_paths(obj: dict) -> set[FieldPath]:
    """Leaf paths a manager owns when it sends `obj` (lists are atomic, identity fields excluded)."""
    paths: set[FieldPath] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            value = {k: v for k, v in value.items() if k not in UNOWNED_METADATA}
        paths |= _leaves(value, (key,))
    return paths


def _leaves(value: Any, prefix: FieldPath) -> set[FieldPath]:
    if isinstance(value, dict) and value:
        out: set[FieldPath] = set()
        for key, inner in value.items():
            out |= _leaves(inner, prefix + (key,))
        return out
    if isinstance(value, dict) and prefix in {("metadata",)}:
        return set()
    return {prefix}


def _value_at(obj: Any, path: FieldPath) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _set_at(obj: dict, path: FieldPath, value: Any) -> None:
    for key in path[:-1]:
        obj = obj.setdefault(key, {})
    obj[path[-1]] = value


def _delete_at(obj: dict, path: FieldPath) -> None:
    parents = []
    for key in path[:-1]:
        if not isinstance(obj, dict) or key not in obj:
            return
        parents.append((obj, key))
        obj = obj[key]
    obj.pop(path[-1], None)
    for parent, key in reversed(parents):  # drop maps that became empty
        if parent[key] == {}:
            del parent[key]


def managed_fields(owners: dict[str, dict[str, Any]]) -> list[dict]:
    return [{"manager": m, "operation": o["operation"], "apiVersion": o["apiVersion"], "time": o["time"],
             "fieldsType": "FieldsV1", "fieldsV1": _fields_tree(o["paths"])} for m, o in owners.items()]


def _fields_tree(paths: set[FieldPath]) -> dict:
    tree: dict = {}
    for path in sorted(paths):
        node = tree
        for key in path:
            node = node.setdefault(f"f:{key}", {})
    return tree


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge(target.get(key), value)
    return target


def _drop_nulls(patch: Any) -> Any:
    if isinstance(patch, dict):
        return {k: _drop_nulls(v) for k, v in patch.items() if v is not None}
    return patch


def _content(obj: dict) -> dict:
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "managedFields")}
    return {**obj, "metadata": meta}


def _spec_part(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _daemon_pod(ds: dict, node: str, ready: bool) -> dict:
    template = copy.deepcopy(ds["spec"]["template"])
    spec = template["spec"]
    spec["nodeName"] = node
    containers = spec.get("containers", [])
    if ready:
        states = [{"name": c["name"], "image": c.get("image", ""), "ready": True, "restartCount": 0,
                   "state": {"running": {"startedAt": now()}}} for c in containers]
        status = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}], "containerStatuses": states}
    else:
        states = [{"name": c["name"], "image": c.get("image", ""), "ready": False, "restartCount": 0,
                   "state": {"waiting": {"reason": "ImagePullBackOff",
                                         "message": f'Back-off pulling image "{c.get("image", "")}"'}}}
                  for c in containers]
        status = {"phase": "Pending", "conditions": [{"type": "Ready", "status": "False",
                                                      "reason": "ContainersNotReady"}],
                  "containerStatuses": states}
    meta = ds["metadata"]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": f"{meta['name']}-{node}", "namespace": meta["namespace"],
            "labels": template.get("metadata", {}).get("labels", {}),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "DaemonSet", "name": meta["name"],
                                 "uid": meta["uid"], "controller": True}],
        },
        "spec": spec, "status": status,
    }


# -- a seeded cluster and the CLI, for the tests ---------------------------------------------

ISTIO_CRDS_FILE = Path(__file__).resolve().parent.parent.parent / "shared" / "schemas" / "istio-crds.yaml"
ISTIO_CRD_NAMES = {"envoyfilters.networking.istio.io", "virtualservices.networking.istio.io",
                   "destinationrules.networking.istio.io"}
_crd_cache: list[dict] = []


def istio_crds() -> list[dict]:
    """The Istio CRDs install needs, from the shared schemas file (dev machines and CI)."""
    if not _crd_cache:
        _crd_cache.extend(load_crds(ISTIO_CRDS_FILE, ISTIO_CRD_NAMES))
    return copy.deepcopy(_crd_cache)


def namespace(name: str, labels: Optional[dict] = None) -> dict:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels or {}}}


def node(name: str, kernel: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"nodeInfo": {"kernelVersion": kernel, "kubeletVersion": "v1.30.3"}}}


def istiod_service(name: str, istio_namespace: str = "istio-system", xds_port: int = 15012) -> dict:
    ports = [{"name": "https-dns", "port": 15012 if xds_port == 15012 else xds_port, "protocol": "TCP"},
             {"name": "grpc-xds", "port": 15010, "protocol": "TCP"}]
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": istio_namespace},
            "spec": {"selector": {"app": "istiod"}, "ports": ports}}


def app_pod(name: str, ns: str, phase: str = "Running", annotated: bool = False, **spec: Any) -> dict:
    annotations = {"kmesh.net/redirection": "enabled"} if annotated else {}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": ns, "labels": {"app": name}, "annotations": annotations},
            "spec": {"containers": [{"name": "app", "image": "fortio/fortio"}], **spec},
            "status": {"phase": phase}}


def seeded_server(with_istio: bool = True, istiod_names: tuple[str, ...] = ("istiod-1-22-6",)) -> StandinApiServer:
    """An ASM-like cluster: istio-system with istiod revision Services, two nodes."""
    server = StandinApiServer(crds=istio_crds() if with_istio else [])
    server.put(namespace("istio-system"))
    for name in istiod_names:
        server.put(istiod_service(name))
    server.put(node("node-a", "5.10.134-16.3.al8.x86_64"))
    server.put(node("node-b", "6.6.31-1.al8.x86_64"))
    return server


# -- pytest fixtures: a running stand-in API server and the CLI run in-process ------------------

import sys  # noqa: E402

import pytest  # noqa: E402


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@dataclass
class StandinCluster:
    server: StandinApiServer
    kubeconfig: Path
    capsys: Any

    def kmeshctl(self, *args: str) -> CliResult:
        """Run `kmeshctl --kubeconfig <stand-in> ARGS` through kmeshctl.cli.main, in-process."""
        from kmeshctl.cli import main

        self.capsys.readouterr()
        saved = sys.argv
        sys.argv = ["kmeshctl", "--kubeconfig", str(self.kubeconfig), *args]
        try:
            main()
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        finally:
            sys.argv = saved
        captured = self.capsys.readouterr()
        return CliResult(code, captured.out, captured.err)


def start_cluster(tmp_path: Path, capsys: Any, server: StandinApiServer) -> StandinCluster:
    server.start()
    return StandinCluster(server, server.write_kubeconfig(tmp_path / "kubeconfig"), capsys)


@pytest.fixture
def cluster(tmp_path: Path, capsys: Any, monkeypatch: Any):
    """An ASM-like stand-in cluster (Istio CRDs, one istiod revision, two nodes)."""
    monkeypatch.setenv("COLUMNS", "200")  # rich tables unwrapped in captured output
    running = start_cluster(tmp_path, capsys, seeded_server())
    yield running
    running.server.stop()


@pytest.fixture
def make_cluster(tmp_path: Path, capsys: Any, monkeypatch: Any):
    """Factory for stand-in clusters seeded differently (no Istio, several istiods, ...)."""
    monkeypatch.setenv("COLUMNS", "200")
    started: list[StandinCluster] = []

    def make(**seed: Any) -> StandinCluster:
        home = tmp_path / f"cluster{len(started)}"
        home.mkdir()
        running = start_cluster(home, capsys, seeded_server(**seed))
        started.append(running)
        return running

    yield make
    for running in started:
        running.server.stop()
