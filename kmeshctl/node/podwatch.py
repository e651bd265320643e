"""Pod enrollment: the kernel side (a pod's network namespace cookie in ``km_manage``)
and the two ways to drive it.

- ``PodWatcher``: with Kubernetes, watch namespaces and this node's pods, apply the
  rules of ``kmeshctl.enrollment``, find each pod's network namespace through the
  processes under ``/host/proc`` (their cgroup names the pod uid), enroll it and
  annotate the pod ``kmesh.net/redirection: enabled``; undo both when it leaves the
  mesh. A pod that finishes is never searched for again: the watch gives back the cookie
  it enrolled (the CNI plugin's DEL gives back its own) and leaves the annotation, the
  record of how the pod ran. Each watch restarts from a fresh list of its own resource
  after any error.
- ``NetnsEnroller`` alone: the local interface of the sandbox (admin ``POST /enroll``).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

from kmeshctl.backoff import jittered
from kmeshctl.enrollment import (ENROLLED_BY_ANNOTATION, ENROLLED_BY_CNI, ENROLLED_BY_WATCH,
                                 REDIRECTION_ANNOTATION, REDIRECTION_ENABLED, Decision, PodView,
                                 decide, is_annotated)
from kmeshctl.errors import KmeshctlError
from kmeshctl.maps import DataplaneMaps, MapError
from kmeshctl.params import AGENT_API_TIMEOUT_S, AGENT_WATCH_READ_SLACK_S, AGENT_WATCH_SECONDS
from kmeshctl.podnet import PodNetError, netns_cookie

log = logging.getLogger("kmeshctl.podwatch")

DEFAULT_PROC_ROOT = Path("/host/proc")
WATCH_BACKOFF_CAP_S = 30.0  # the longest wait before listing again after a watch failed
FINISHED_PHASES = frozenset({"Succeeded", "Failed"})  # no process left: no traffic to redirect


class EnrollError(KmeshctlError):
    """A network namespace could not be enrolled or released."""


@dataclass(frozen=True)
class Enrolled:
    cookie: int
    netns: str
    pod: str
    via: str = ENROLLED_BY_WATCH  # or "cni", "local"


class NetnsEnroller:
    """Adds / removes network namespaces (by cookie) in ``km_manage``; thread-safe."""

    def __init__(self, maps: DataplaneMaps) -> None:
        self.maps = maps
        self._lock = threading.Lock()
        self._by_netns: dict[str, Enrolled] = {}

    def cookie_of(self, netns: str | os.PathLike[str]) -> int:
        path = Path(netns)
        if not path.exists():
            raise EnrollError(f"network namespace {path} does not exist: pass a path such as "
                              "/run/netns/NAME or /proc/PID/ns/net")
        try:
            return netns_cookie(path)
        except PodNetError as err:
            raise EnrollError(str(err)) from err

    def enroll(self, netns: str, pod: str = "", via: str = ENROLLED_BY_WATCH) -> dict:
        return self.enroll_cookie(self.cookie_of(netns), str(netns), pod, via)

    def enroll_cookie(self, cookie: int, netns: str, pod: str = "", via: str = ENROLLED_BY_WATCH) -> dict:
        """Put a netns cookie in km_manage; ``netns`` only names it (a path, or the CNI
        container id). Raises EnrollError."""
        with self._lock:
            try:
                self.maps.enroll(cookie)
            except MapError as err:
                raise EnrollError(f"enrolling {pod or netns}: {err}") from err
            self._by_netns[netns] = Enrolled(cookie, netns, pod, via)
        log.info("event=pod_enrolled pod=%s netns=%s cookie=%d via=%s", pod or "-", netns, cookie, via)
        return {"netns": netns, "pod": pod, "cookie": cookie, "enrolled": True, "via": via}

    def unenroll(self, netns: str) -> dict:
        with self._lock:
            known = self._by_netns.pop(str(netns), None)
        cookie = known.cookie if known else self.cookie_of(netns)
        self.release_cookie(cookie, known.pod if known else "")
        return {"netns": str(netns), "cookie": cookie, "enrolled": False}

    def release_cookie(self, cookie: int, pod: str = "") -> None:
        try:
            self.maps.unenroll(cookie)
        except MapError as err:
            raise EnrollError(f"unenrolling {pod or cookie}: {err}") from err
        with self._lock:
            for netns, entry in list(self._by_netns.items()):
                if entry.cookie == cookie:
                    del self._by_netns[netns]
        log.info("event=pod_unenrolled pod=%s cookie=%d", pod or "-", cookie)

    def enrolled(self) -> list[Enrolled]:
        with self._lock:
            return list(self._by_netns.values())

    def is_enrolled(self, cookie: int) -> bool:
        """Whether ``cookie`` is in km_manage now (read from the map, not from memory)."""
        try:
            return cookie in set(self.maps.enrolled())
        except MapError:
            return False

    def count(self) -> int:
        try:
            return len(self.maps.enrolled())
        except MapError:
            return len(self._by_netns)


# ----------------------------------------------------------------- netns discovery


def _uid_forms(uid: str) -> tuple[str, str]:
    # cgroupfs drivers write pod<uid>, systemd drivers pod<uid with '_' for '-'>
    return uid, uid.replace("-", "_")


def find_pod_netns(uid: str, proc_root: Path = DEFAULT_PROC_ROOT) -> Optional[Path]:
    """The network namespace of a pod: that of a process whose cgroup names the pod uid."""
    if not uid:
        return None
    forms = _uid_forms(uid)
    host_netns = _netns_id(proc_root / "1" / "ns" / "net")
    for entry in _pids(proc_root):
        try:
            cgroups = (entry / "cgroup").read_text()
        except OSError:
            continue  # exited meanwhile, or not ours to read
        if any(form in cgroups for form in forms):
            netns = entry / "ns" / "net"
            if _netns_id(netns) not in (None, host_netns):
                return netns
    return None


def _pids(proc_root: Path) -> Iterator[Path]:
    try:
        names = os.listdir(proc_root)
    except OSError:
        return
    for name in names:
        if name.isdigit():
            yield proc_root / name


def _netns_id(path: Path) -> Optional[tuple[int, int]]:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


# ----------------------------------------------------------------- Kubernetes


class PodWatcher:
    """Keeps this node's pods enrolled according to the enrollment rules."""

    def __init__(self, core_api: Any, node_name: str, enroller: NetnsEnroller, enable_bypass: bool,
                 proc_root: Path = DEFAULT_PROC_ROOT, retry_seconds: float = 5.0) -> None:
        if not node_name:
            raise KmeshctlError("pod enrollment needs the node name: set NODE_NAME (the DaemonSet "
                                "passes spec.nodeName)")
        self.api = core_api
        self.node_name = node_name
        self.enroller = enroller
        self.enable_bypass = enable_bypass
        self.proc_root = proc_root
        self.retry_seconds = retry_seconds
        self.namespaces: dict[str, dict[str, str]] = {}
        self.pods: dict[str, PodView] = {}  # uid -> latest view
        self.cookies: dict[str, int] = {}  # uid -> enrolled netns cookie
        self.enrolled_by: dict[str, str] = {}  # uid -> "cni" for pods the CNI plugin enrolled
        self._lock = threading.RLock()
        # Held from a list call until its result is applied: a list answered late would
        # otherwise overwrite a newer one and drop the pods that appeared in between.
        self._relist_lock = threading.Lock()
        # Pods the CNI path handed over while a pod list was asked: not in that list, not gone.
        self._adopted_meanwhile: Optional[set[str]] = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ----- lifecycle --------------------------------------------------------------------

    def start(self) -> None:
        namespaces_rv, pods_rv = self.resync(initial=True)
        for name, target, args in (("watch-namespaces", self._watch_namespaces, (namespaces_rv,)),
                                   ("watch-pods", self._watch_pods, (pods_rv,)),
                                   ("enroll-retry", self._retry_loop, ())):
            thread = threading.Thread(target=target, args=args, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 1.0) -> None:
        """No event is acted on after this returns. A watch blocked on a quiet stream only
        notices at its next event, so the threads get one shared deadline to end, not one
        each (they are daemon threads: the process exits without them)."""
        self._stop.set()
        with self._lock:  # waits for an event being handled; later ones see _stop under the lock
            pass
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    # ----- reconcile --------------------------------------------------------------------

    def resync(self, initial: bool = False) -> tuple[str, str]:
        """List namespaces and this node's pods and reconcile every pod; returns the
        resource versions to watch from. The watches relist only their own resource."""
        with self._relist_lock:
            namespaces = self.api.list_namespace(_request_timeout=AGENT_API_TIMEOUT_S)
            pods = self._list_pods_to_apply()
            with self._lock:
                if self._stop.is_set():  # a relist that finished after stop() changes nothing
                    return namespaces.metadata.resource_version, pods.metadata.resource_version
                self.namespaces = _namespace_labels(namespaces)
                self._apply_pods(pods)
                if initial:
                    self._drop_stale_cookies()
        log.info("event=pods_resynced namespaces=%d pods=%d enrolled=%d",
                 len(self.namespaces), len(pods.items), len(self.cookies))
        return namespaces.metadata.resource_version, pods.metadata.resource_version

    def _relist_namespaces(self) -> str:
        """The namespace watch's relist. Pods are not listed here: a pod list older than
        the pod watch's last event would take pods that started since for deleted."""
        with self._relist_lock:
            namespaces = self.api.list_namespace(_request_timeout=AGENT_API_TIMEOUT_S)
            with self._lock:
                if not self._stop.is_set():
                    self.namespaces = _namespace_labels(namespaces)
                    self._reconcile_each(list(self.pods.values()))
        return namespaces.metadata.resource_version

    def _relist_pods(self) -> str:
        """The pod watch's relist: its events and its lists are applied in the order made."""
        with self._relist_lock:
            pods = self._list_pods_to_apply()
            with self._lock:
                if not self._stop.is_set():
                    self._apply_pods(pods)
        return pods.metadata.resource_version

    def _list_pods(self) -> Any:
        return self.api.list_pod_for_all_namespaces(field_selector=f"spec.nodeName={self.node_name}",
                                                    _request_timeout=AGENT_API_TIMEOUT_S)

    def _list_pods_to_apply(self) -> Any:
        """Under the relist lock; _apply_pods applies the answer."""
        with self._lock:
            self._adopted_meanwhile = set()
        return self._list_pods()

    def _apply_pods(self, pods: Any) -> None:
        """A pod list: the pods not in it are gone, but for those the CNI path handed over
        while it was asked (created after it; their events follow it). Under the lock."""
        views = [PodView.from_k8s(p) for p in pods.items]
        listed = {v.uid for v in views}
        kept, self._adopted_meanwhile = self._adopted_meanwhile or set(), None
        kept = {uid for uid in kept - listed if self._still_exists(uid)}
        for gone in set(self.pods) - listed - kept:
            self._pod_deleted(gone)
        self.pods.update((view.uid, view) for view in views)
        self._reconcile_each(views)

    def _still_exists(self, uid: str) -> bool:
        """Whether a pod handed over during a list and missing from it is still there: it
        may have been created after the list's snapshot, or deleted before it (then no
        DELETED event follows the list). Kept when the API cannot tell. Under the lock."""
        view = self.pods.get(uid)
        if view is None or self._stop.is_set():
            return view is not None
        try:
            pod = self.api.read_namespaced_pod(view.name, view.namespace, _request_timeout=AGENT_API_TIMEOUT_S)
        except Exception as err:  # noqa: BLE001 - ApiException or transport error
            if getattr(err, "status", None) == 404:
                return False
            log.warning("event=pod_read_failed pod=%s/%s error=%r (kept)", view.namespace, view.name, str(err))
            return True
        return PodView.from_k8s(pod).uid == uid  # another uid: a newer pod of that name

    def _reconcile_each(self, views: list[PodView]) -> None:
        """Under the lock; stops between pods once stop() is called, which waits for the
        lock: each pod may cost an API call of up to AGENT_API_TIMEOUT_S."""
        for view in views:
            if self._stop.is_set():
                return
            self._reconcile_pod(view)

    def _drop_stale_cookies(self) -> None:
        """km_manage entries of pods that went away while no agent was running."""
        try:
            stale = set(self.enroller.maps.enrolled()) - set(self.cookies.values())
        except MapError as err:
            log.warning("event=manage_scan_failed error=%r", str(err))
            return
        for cookie in stale:
            self.enroller.release_cookie(cookie, "stale")

    def _decide(self, view: PodView) -> Decision:
        return decide(view, self.namespaces.get(view.namespace, {}), self.enable_bypass)

    def _reconcile_pod(self, view: PodView) -> None:
        try:
            if view.phase in FINISHED_PHASES:
                self._finished(view)
                return
            decision = self._decide(view)
            if decision.enroll:
                self._enroll(view, decision.reason)
            else:
                self._release(view, decision.reason)
        except (KmeshctlError, OSError) as err:
            log.warning("event=pod_enroll_failed pod=%s/%s error=%r (will retry)",
                        view.namespace, view.name, str(err))

    def _enroll(self, view: PodView, reason: str) -> None:
        if view.uid not in self.cookies:
            netns = find_pod_netns(view.uid, self.proc_root)
            if netns is None:
                log.debug("event=pod_netns_pending pod=%s/%s", view.namespace, view.name)
                return  # not running yet: the retry loop or the next event picks it up
            result = self.enroller.enroll(str(netns), f"{view.namespace}/{view.name}")
            self.cookies[view.uid] = result["cookie"]
            log.info("event=pod_in_mesh pod=%s/%s reason=%r", view.namespace, view.name, reason)
        if not is_annotated(view):
            self._annotate(view, REDIRECTION_ENABLED, self.enrolled_by.get(view.uid, ENROLLED_BY_WATCH))

    def _release(self, view: PodView, reason: str) -> None:
        cookie = self.cookies.get(view.uid)
        if cookie is None and is_annotated(view):  # enrolled by a previous agent
            netns = find_pod_netns(view.uid, self.proc_root)
            cookie = self.enroller.cookie_of(str(netns)) if netns else None
        if cookie is not None:
            # Raises on failure: the cookie stays known, so the retry pass releases it again.
            self.enroller.release_cookie(cookie, f"{view.namespace}/{view.name}")
            log.info("event=pod_left_mesh pod=%s/%s reason=%r", view.namespace, view.name, reason)
        self.cookies.pop(view.uid, None)
        self.enrolled_by.pop(view.uid, None)
        if is_annotated(view):
            self._annotate(view, None)

    def _finished(self, view: PodView) -> None:
        """No process is left to redirect: a cookie the watch enrolled goes (the CNI plugin's
        DEL, sent when the kubelet stops the sandbox, releases and reports its own). The
        annotations stay: they say how the pod ran, and the pod never runs again."""
        if not self._holds_for_watch(view.uid):
            return
        # Raises on failure: the cookie stays known, so the retry pass releases it again.
        self.enroller.release_cookie(self.cookies[view.uid], f"{view.namespace}/{view.name}")
        self.cookies.pop(view.uid)
        log.info("event=pod_left_mesh pod=%s/%s reason=%r", view.namespace, view.name,
                 f"pod finished (phase {view.phase})")

    def _holds_for_watch(self, uid: str) -> bool:
        return uid in self.cookies and self.enrolled_by.get(uid) != ENROLLED_BY_CNI

    def _pod_deleted(self, uid: str) -> None:
        view = self.pods.pop(uid, None)
        self.enrolled_by.pop(uid, None)
        cookie = self.cookies.pop(uid, None)
        if cookie is not None:
            self.enroller.release_cookie(cookie, f"{view.namespace}/{view.name}" if view else uid)

    def remove_annotations(self) -> int:
        """Uninstall: take kmesh.net/redirection off every pod of this node that has it
        (also those a previous agent marked). Returns how many pods were patched."""
        marked = [view for view in map(PodView.from_k8s, self._list_pods().items) if is_annotated(view)]
        for view in marked:
            self._annotate(view, None)
        return len(marked)

    def adopt(self, view: PodView, cookie: int) -> bool:
        """The CNI path enrolled ``view``'s netns: the watch takes it as its own (releases it
        when the pod leaves the mesh or goes). False after stop()."""
        with self._lock:
            if self._stop.is_set():
                return False
            self.pods.setdefault(view.uid, view)
            if self._adopted_meanwhile is not None:
                self._adopted_meanwhile.add(view.uid)
            self.cookies[view.uid] = cookie
            self.enrolled_by[view.uid] = ENROLLED_BY_CNI
            return True

    def forget(self, uid: str) -> Optional[int]:
        """The CNI path released the pod (DEL): the cookie the watch had for it."""
        with self._lock:
            if self._adopted_meanwhile is not None:  # handed back: a list without it means gone
                self._adopted_meanwhile.discard(uid)
            self.enrolled_by.pop(uid, None)
            return self.cookies.pop(uid, None)

    def cached(self, namespace: str, name: str) -> tuple[Optional[PodView], Optional[dict[str, str]]]:
        """The watch's latest view of a pod (by name) and of its namespace's labels."""
        with self._lock:
            view = next((v for v in self.pods.values() if v.namespace == namespace and v.name == name), None)
            return view, (dict(self.namespaces[namespace]) if namespace in self.namespaces else None)

    def annotate(self, view: PodView, enrolled_by: str) -> None:
        """Mark ``view`` enrolled (kmesh.net/redirection) and by which path."""
        self._annotate(view, REDIRECTION_ENABLED, enrolled_by)

    def _annotate(self, view: PodView, value: Optional[str], enrolled_by: Optional[str] = None) -> None:
        body = {"metadata": {"annotations": {REDIRECTION_ANNOTATION: value, ENROLLED_BY_ANNOTATION: enrolled_by}}}
        try:
            self.api.patch_namespaced_pod(view.name, view.namespace, body, _request_timeout=AGENT_API_TIMEOUT_S)
        except Exception as err:  # noqa: BLE001 - ApiException or transport error; retried later
            log.warning("event=pod_annotate_failed pod=%s/%s error=%r", view.namespace, view.name, str(err))

    # ----- watches ----------------------------------------------------------------------

    def _retry_loop(self) -> None:
        while not self._stop.wait(self.retry_seconds):
            self._retry_pass()

    def _retry_pass(self) -> None:
        """The lock is taken per pod, so events and stop() wait for one pod's work, not
        the pass's."""
        with self._lock:
            uids = list(self.pods)
        for uid in uids:
            with self._lock:
                if self._stop.is_set():
                    return
                view = self.pods.get(uid)  # the latest view; None once deleted meanwhile
                if view is not None:
                    self._retry_pod(view)

    def _retry_pod(self, view: PodView) -> None:
        """Finish what an event left undone: an enrollment whose netns was not there yet, a
        release whose km_manage delete failed, or an annotation patch that failed (no event
        may come for that pod again). A finished pod: only a cookie the watch enrolled."""
        if view.phase in FINISHED_PHASES:
            if self._holds_for_watch(view.uid):
                self._reconcile_pod(view)
            return
        decision = self._decide(view)
        enrolled, marked = view.uid in self.cookies, is_annotated(view)
        if (not (enrolled and marked)) if decision.enroll else (enrolled or marked):
            self._reconcile_pod(view)

    def _watch_namespaces(self, resource_version: Optional[str]) -> None:
        self._watch_forever(self.api.list_namespace, {}, self._on_namespace_event, self._relist_namespaces,
                            resource_version)

    def _watch_pods(self, resource_version: Optional[str]) -> None:
        self._watch_forever(self.api.list_pod_for_all_namespaces,
                            {"field_selector": f"spec.nodeName={self.node_name}"}, self._on_pod_event,
                            self._relist_pods, resource_version)

    def _watch_forever(self, list_call: Callable, kwargs: dict, handle: Callable[[str, Any], None],
                       relist: Callable[[], str], resource_version: Optional[str]) -> None:
        from kubernetes import watch  # imported here: only the in-cluster agent needs it

        failures = 0
        while not self._stop.is_set():
            try:
                if resource_version is None:
                    resource_version = relist()
                # Bookmarks keep a quiet watch's version current, so it resumes after its
                # timeout instead of hitting 410 Gone and relisting once history moved on.
                stream = watch.Watch().stream(
                    list_call, resource_version=resource_version, timeout_seconds=AGENT_WATCH_SECONDS,
                    allow_watch_bookmarks=True,
                    _request_timeout=(AGENT_API_TIMEOUT_S, AGENT_WATCH_SECONDS + AGENT_WATCH_READ_SLACK_S),
                    **kwargs)
                for event in stream:
                    if self._stop.is_set():
                        return
                    if event["type"] == "BOOKMARK":  # the client leaves its object a bare dict
                        resource_version = event["raw_object"]["metadata"]["resourceVersion"]
                        continue
                    obj = event["object"]
                    resource_version = obj.metadata.resource_version
                    handle(event["type"], obj)
                failures = 0
            except Exception as err:  # noqa: BLE001 - any watch failure: relist, then watch again
                failures += 1
                resource_version = None
                delay = jittered(failures, 1.0, WATCH_BACKOFF_CAP_S)
                log.warning("event=watch_error what=%s error=%r relist_in=%.1fs",
                            list_call.__name__, str(err)[:200], delay)
                self._stop.wait(delay)

    def _on_namespace_event(self, kind: str, ns: Any) -> None:
        name = ns.metadata.name
        with self._lock:
            if self._stop.is_set():  # checked under the lock: stop() waits for it
                return
            if kind == "DELETED":
                self.namespaces.pop(name, None)
            else:
                self.namespaces[name] = dict(ns.metadata.labels or {})
            self._reconcile_each([v for v in self.pods.values() if v.namespace == name])

    def _on_pod_event(self, kind: str, pod: Any) -> None:
        view = PodView.from_k8s(pod)
        with self._lock:
            if self._stop.is_set():
                return
            if kind == "DELETED":
                self._pod_deleted(view.uid)
                return
            self.pods[view.uid] = view
            self._reconcile_pod(view)


def _namespace_labels(namespaces: Any) -> dict[str, dict[str, str]]:
    return {ns.metadata.name: dict(ns.metadata.labels or {}) for ns in namespaces.items}
