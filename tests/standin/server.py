"""The stand-in API server's state and verbs: objects in memory, one revision counter
(resourceVersion), server-side apply with field ownership, dry runs, admission, the
change history watches read, and the simulated controllers' hooks. The HTTP front end
is in `frontend.py`; exec and port-forward sessions in `streams.py`."""

from __future__ import annotations

import copy
import math
import threading
import uuid
from datetime import datetime, timedelta, timezone
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, NamedTuple, Optional

import yaml

from . import controllers, tls
from .fields import (MISSING, FieldPath, content, delete_at, drop_nulls, managed_fields, merge,
                     owned_paths, set_at, spec_part, value_at)
from .kubelet import PodBackend
from .resources import (BUILTIN, OBJECT_VERBS, SUBRESOURCES, TOKEN, HttpError, Key, Resource,
                        not_found, now)
from .resources import POD as POD_RESOURCE
from .selectors import ObjectMatch, object_matcher
from .watch import Event, EventLog, Expired, WatchRequest, WatchSession


STOP_WAIT_S = 5.0  # how long stop() waits for the serve loop to end


class Request(NamedTuple):
    """One entry of the request log; `dry_run` when the request was a dry run (dryRun=All
    where the server reads it: the query, or a DELETE's DeleteOptions body),
    `watch` when it was a watch."""
    method: str
    path: str
    dry_run: bool = False
    watch: bool = False


class StandinApiServer:
    """In-memory API state plus the HTTPS front end (`url`, `port`, `write_kubeconfig`: the
    kubeconfig trusts this process's stand-in certificate, tests/standin/tls.py)."""

    def __init__(self, server_version: tuple[int, int] = (1, 30), crds: Optional[list[dict]] = None) -> None:
        self.server_version = server_version
        self.lock = threading.RLock()
        self.objects: dict[Key, dict] = {}
        self.owners: dict[Key, dict[str, dict[str, Any]]] = {}  # manager -> {op, apiVersion, time, paths}
        self.revision = 100
        self.events = EventLog()
        self.watches: list[WatchSession] = []
        self.bookmark_interval = 60.0  # the real server sends one about every minute
        self.stopping = threading.Event()
        self.denied: set[tuple[str, str, str]] = set()
        # Built-in kinds a test adds to BUILTIN (PersistentVolumeClaim, Role, CronJob, ...): served as they are
        self.extra_resources: list[Resource] = []
        self.daemonset_controller: Optional[str] = None  # "ready" | "stuck" | None (no controller)
        self.deployment_controller: Optional[str] = None  # "ready" | "stuck" | None
        self.controller_delay = 0.2
        # A deleted pod stays Terminating (its deletionTimestamp the end of its grace period)
        # this long, as while its kubelet stops it; None: deleted at once (the default).
        self.pod_stop_s: Optional[float] = None
        # What a pod's process does at SIGTERM (a test's node agent: kmeshctl.node.lifecycle),
        # called under the lock with the pod as it was when its stop began.
        self.on_pod_stop: Optional[Callable[[dict], None]] = None
        # With pod_stop_s: the DaemonSet controller makes a pod in place of one being deleted
        # (ContainerCreating), running this long after (math.inf: never); None: no replacement.
        self.daemon_pod_start_s: Optional[float] = None
        # With daemon_pod_start_s: the replacement is made this long after its predecessor's stop
        # began (a kubelet-observed gap: the real controller makes it once the old pod is gone), and
        # its container runs this long before its startup probe passes (containerStatuses[].started).
        self.daemon_pod_make_s = 0.0
        self.daemon_pod_startup_s = 0.0
        self.namespace_finalize_delay = 0.3
        self.requests: list[Request] = []
        self.admission_denials: dict[tuple[str, str], str] = {}  # (kind, name) -> message
        self.ips = controllers.IpAllocator()
        self.pod_backends: dict[tuple[str, str], PodBackend] = {}  # (namespace, name) -> backend
        self.pod_backend_resolver: Optional[Callable[[dict], Optional[PodBackend]]] = None
        for crd in crds or []:
            self.put(crd)
        self._http: Optional[ThreadingHTTPServer] = None
        self.sessions: set[Any] = set()  # open exec / port-forward sessions
        self.handler_errors: list[str] = []  # tracebacks of requests whose handler raised
        self.upgrades_to_drop = 0  # the next N exec / port-forward upgrades: cut before any answer

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> "StandinApiServer":
        from .frontend import serve

        self.stopping.clear()
        self._http = serve(self)
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.events.wake_all()
        for session in list(self.sessions):
            session.abort()
        if self._http:
            # bounded: a serve loop that stopped answering must not hang the test's teardown
            # (pytest-timeout's alarm has fired by then; nothing would end the wait)
            ending = threading.Thread(target=self._http.shutdown, name="standin-shutdown", daemon=True)
            ending.start()
            ending.join(STOP_WAIT_S)
            self._http.server_close()

    @property
    def url(self) -> str:
        assert self._http is not None
        return f"https://127.0.0.1:{self._http.server_address[1]}"

    @property
    def port(self) -> int:
        assert self._http is not None
        return int(self._http.server_address[1])

    def write_kubeconfig(self, path: Path, context: str = "standin") -> Path:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "standin", "cluster": {"server": self.url,
                                                         "certificate-authority-data": tls.ca_data()}}],
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
                return copy.deepcopy(self.replace(res, key, obj, manager))
            return copy.deepcopy(self.create(res, copy.deepcopy(obj), manager))

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
        """Write an object's status (as its controller or the kubelet would)."""
        res = self.resource_for(api_version, kind)
        with self.lock:
            key = (res.group, res.plural, namespace, name)
            new = copy.deepcopy(self.objects[key])
            new["status"] = copy.deepcopy(status)
            self.store(res, key, new)

    def delete_object(self, api_version: str, kind: str, name: str, namespace: str = "") -> None:
        res = self.resource_for(api_version, kind)
        with self.lock:
            self.delete(res, (res.group, res.plural, namespace if res.namespaced else "", name))

    def take_dropped_upgrade(self) -> bool:
        """Whether this exec / port-forward upgrade is one to cut before answering (what a
        client sees when an API server or a load balancer drops a connection)."""
        with self.lock:
            if self.upgrades_to_drop <= 0:
                return False
            self.upgrades_to_drop -= 1
            return True

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

    def compact(self) -> int:
        """Forget the change history up to now, as etcd compaction does: a watch from an
        older resourceVersion then gets 410 Gone. Returns the compacted revision."""
        with self.lock:
            self.events.compact(self.revision)
            return self.revision

    def drop_watches(self, clean: bool = False, plural: str = "") -> int:
        """End the open watches (of one resource, e.g. "pods", or all): `clean` ends the
        response properly (as at its timeout), otherwise the connection is cut mid-stream.
        Returns how many were open."""
        open_now = self.open_watches(plural)
        for session in open_now:
            session.end = "clean" if clean else "abrupt"
        self.events.wake_all()
        return len(open_now)

    def open_watches(self, plural: str = "") -> list[WatchSession]:
        return [w for w in self.watches if w.outcome is None and plural in ("", w.request.resource.plural)]

    def back_pod(self, namespace: str, name: str, backend: PodBackend) -> None:
        """Say what runs a pod (the kubelet's job): exec and port-forward reach it."""
        self.pod_backends[(namespace, name)] = backend

    def backend_of(self, pod: dict) -> Optional[PodBackend]:
        meta = pod["metadata"]
        found = self.pod_backends.get((meta["namespace"], meta["name"]))
        if found is None and self.pod_backend_resolver is not None:
            found = self.pod_backend_resolver(pod)
        return found

    # -- resources -----------------------------------------------------------------

    def served(self) -> list[Resource]:
        served = list(BUILTIN) + self.extra_resources
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

    # -- storage: every stored change is one revision and one event --------------------

    def store(self, res: Resource, key: Key, obj: dict) -> dict:
        previous = self.objects.get(key)
        self.revision += 1
        obj["metadata"]["resourceVersion"] = str(self.revision)
        self.objects[key] = obj
        self.events.append(Event(self.revision, "MODIFIED" if previous else "ADDED", (res.group, res.plural),
                                 copy.deepcopy(obj), copy.deepcopy(previous)))
        return obj

    def remove(self, key: Key) -> None:
        current = self.objects.get(key)
        if key[1] == "pods" and current is not None and not current["metadata"].get("deletionTimestamp") \
                and self.on_pod_stop is not None:  # stopped now, without a grace period (the garbage collector)
            self.on_pod_stop(copy.deepcopy(current))
        obj = self.objects.pop(key, None)
        self.owners.pop(key, None)
        if obj is None:
            return
        self.revision += 1
        last = copy.deepcopy(obj)
        last["metadata"]["resourceVersion"] = str(self.revision)
        self.events.append(Event(self.revision, "DELETED", key[:2], last, copy.deepcopy(obj)))
        self.collect_dependents(obj["metadata"].get("uid", ""))

    def collect_dependents(self, owner_uid: str) -> None:
        """The garbage collector (background propagation): objects owned by a deleted one go too."""
        if not owner_uid:
            return
        for key, obj in list(self.objects.items()):
            if any(ref.get("uid") == owner_uid for ref in obj["metadata"].get("ownerReferences", [])):
                self.remove(key)

    # -- writes ----------------------------------------------------------------------

    def create(self, res: Resource, obj: dict, manager: str, operation: str = "Update",
               dry_run: bool = False) -> dict:
        """Store a new object; a dry run answers the same (without a resourceVersion, which only
        storage assigns) and stores nothing."""
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            raise HttpError(422, "Invalid", f"{res.kind} is invalid: metadata.name: Required value")
        if res.namespaced:
            self.check_namespace_open(meta.get("namespace") or "")
        key = self.key(res, obj)
        if key in self.objects:
            raise HttpError(409, "AlreadyExists", f'{res.plural} "{meta["name"]}" already exists')
        obj["apiVersion"], obj["kind"] = res.api_version, res.kind
        self.admit(res, obj)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=now(), generation=1)
        if res.kind == "Namespace":
            obj["status"] = {"phase": "Active"}
        owners = {manager: self.ownership(operation, res, owned_paths(obj))}
        controllers.allocate_on_create(self, res, obj, dry_run)  # after ownership: allocated, not applied
        if dry_run:
            meta["managedFields"] = managed_fields(owners)
            return obj
        self.owners[key] = owners
        meta["managedFields"] = managed_fields(owners)
        self.store(res, key, obj)
        self.after_write(res, obj)
        return obj

    def check_namespace_open(self, namespace: str) -> None:
        if not namespace:
            raise HttpError(400, "BadRequest", "the namespace of the object is required")
        ns = self.objects.get(("", "namespaces", "", namespace))
        if ns is None:
            raise HttpError(404, "NotFound", f'namespaces "{namespace}" not found')
        if ns.get("metadata", {}).get("deletionTimestamp"):
            raise HttpError(403, "Forbidden", f"unable to create new content in namespace {namespace} "
                            "because it is being terminated")

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
        for name in ("uid", "creationTimestamp", "generation", "resourceVersion"):
            new["metadata"][name] = current["metadata"].get(name)
        if "status" not in new and "status" in current:
            new["status"] = current["status"]
        controllers.keep_allocations(res, current, new)
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
        if content(new) == content(current) and all(
            self.owners[key].get(m, {}).get("paths") == o["paths"] for m, o in owners.items()
        ):
            return copy.deepcopy(current) if dry_run else current
        if spec_part(new) != spec_part(current):
            new["metadata"]["generation"] = int(current["metadata"].get("generation", 1)) + 1
        merged = self.merged_owners(key, current, new, owners)
        new["metadata"]["managedFields"] = managed_fields(merged)
        if dry_run:
            return new
        self.owners[key] = merged
        self.store(res, key, new)
        self.after_write(res, new)
        return new

    def merged_owners(self, key: Key, current: dict, new: dict, owners: dict) -> dict:
        """The field owners after a write: the writers' entries replace theirs, and a field
        whose value the write changed leaves every other manager (a copy; nothing stored)."""
        merged = {m: {**o, "paths": set(o["paths"])} for m, o in self.owners[key].items()}
        for manager, ownership in owners.items():
            for other, theirs in merged.items():
                if other != manager and content(new) != content(current):
                    theirs["paths"] -= {p for p in ownership["paths"] if value_at(new, p) != value_at(current, p)}
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
            for p in paths & theirs["paths"] if value_at(applied, p) != value_at(current, p)
        )
        if conflicts and not force:
            raise self.conflict_error(key, conflicts)
        new = copy.deepcopy(current)
        previous = self.owners[key].get(manager, {}).get("paths", set())
        others = set().union(*(o["paths"] for m, o in self.owners[key].items() if m != manager))
        for gone in previous - paths - others:
            delete_at(new, gone)
        for path in paths:
            set_at(new, path, copy.deepcopy(value_at(applied, path)))
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
            raise not_found(res, key[3])
        new = merge(copy.deepcopy(current), patch)
        mine = set(self.owners[key].get(manager, {}).get("paths", set())) | owned_paths(drop_nulls(patch))
        mine = {p for p in mine if value_at(new, p) is not MISSING}
        return self.commit(res, key, current, new, {manager: self.ownership("Update", res, mine)}, dry_run)

    def delete(self, res: Resource, key: Key, dry_run: bool = False) -> dict:
        obj = self.objects.get(key)
        if obj is None:
            raise not_found(res, key[3])
        if dry_run:
            return copy.deepcopy(obj)
        if res.kind == "Pod" and self.pod_stop_s is not None:
            return copy.deepcopy(self.terminate_pod(key, obj))
        if res.kind == "Namespace":
            if not obj["metadata"].get("deletionTimestamp"):
                terminating = copy.deepcopy(obj)
                terminating["metadata"]["deletionTimestamp"] = now()
                terminating["status"] = {"phase": "Terminating"}
                obj = self.store(res, key, terminating)
                threading.Timer(self.namespace_finalize_delay, self.finalize_namespace, [key[3]]).start()
            return copy.deepcopy(obj)
        self.remove(key)
        controllers.release_on_delete(self, res, obj)
        return copy.deepcopy(obj)

    def terminate_pod(self, key: Key, obj: dict) -> dict:
        """A pod's deletion as kube-apiserver and its kubelet make it: deletionTimestamp set to
        the end of its grace period (pod_stop_s), its process stopped (on_pod_stop), the
        DaemonSet controller's replacement made at once (it counts no pod being deleted),
        the pod removed once its stop is over."""
        if obj["metadata"].get("deletionTimestamp"):
            return obj
        assert self.pod_stop_s is not None
        grace = max(1, math.ceil(self.pod_stop_s))
        terminating = copy.deepcopy(obj)
        terminating["metadata"]["deletionTimestamp"] = (datetime.now(timezone.utc) + timedelta(seconds=grace)) \
            .strftime("%Y-%m-%dT%H:%M:%SZ")
        terminating["metadata"]["deletionGracePeriodSeconds"] = grace
        stored = self.store(POD_RESOURCE, key, terminating)
        if self.on_pod_stop is not None:
            self.on_pod_stop(copy.deepcopy(stored))
        controllers.replace_daemon_pod(self, stored)
        threading.Timer(self.pod_stop_s, self.finish_pod, [key, obj["metadata"].get("uid")]).start()
        return stored

    def finish_pod(self, key: Key, uid: str) -> None:
        with self.lock:
            current = self.objects.get(key)
            if current is not None and current["metadata"].get("uid") == uid:
                self.remove(key)

    def finalize_namespace(self, name: str) -> None:
        with self.lock:
            for key in [k for k in self.objects if k[2] == name]:
                self.remove(key)
            self.remove(("", "namespaces", "", name))

    # -- simulated controllers -----------------------------------------------------------

    def after_write(self, res: Resource, obj: dict) -> None:
        controllers.after_write(self, res, obj)

    # -- reads -----------------------------------------------------------------------------

    def list(self, res: Resource, namespace: str, labels: str, fields: str) -> dict:
        match = object_matcher(labels, fields)
        items = self.matching(res, namespace, match)
        return {"kind": f"{res.kind}List", "apiVersion": res.api_version,
                "metadata": {"resourceVersion": str(self.revision)}, "items": items}

    def matching(self, res: Resource, namespace: str, match: ObjectMatch) -> list[dict]:
        return [copy.deepcopy(o) for k, o in sorted(self.objects.items())
                if k[:2] == (res.group, res.plural) and (not namespace or k[2] == namespace) and match(o)]

    def open_watch(self, path: str, request: WatchRequest) -> tuple[WatchSession, int, list[dict], Optional[Expired]]:
        """Register a watch: (session, revision to stream from, synthetic ADDED objects,
        the 410 to answer instead when the requested revision is no longer kept)."""
        session = WatchSession(path, request)
        self.watches.append(session)
        version = request.resource_version
        if version in ("", "0"):  # "get state and start at most recent" / "start at any"
            return session, self.revision, self.matching(request.resource, request.namespace, request.match), None
        try:
            self.events.check_available(int(version))
        except Expired as err:
            session.outcome = "expired"
            return session, 0, [], err
        return session, int(version), [], None

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
                              "kind": res.kind, "verbs": OBJECT_VERBS})
            for sub, verbs in SUBRESOURCES.get(res.kind, {}).items():
                resources.append({"name": f"{res.plural}/{sub}", "singularName": "", "namespaced": res.namespaced,
                                  "kind": "PodExecOptions" if sub == "exec" else
                                  "PodPortForwardOptions" if sub == "portforward" else res.kind,
                                  "verbs": verbs})
        return {"kind": "APIResourceList", "apiVersion": "v1",
                "groupVersion": f"{group}/{version}" if group else version, "resources": resources}
