"""Informers for the waypoint controller: per kind, LIST once, then WATCH from the list's
resourceVersion and keep an in-memory copy of the collection (keyed namespace/name), as a
Kubernetes controller does, instead of listing everything again and again.

Rules (those of the node agent's pod watch, `kmeshctl.node.podwatch`):
- a watch ends after its timeoutSeconds: watch again from the last version seen (events
  and BOOKMARKs keep it current);
- 410 Gone (the version is no longer kept) or any other error: back off (jittered,
  doubling, capped) and LIST again;
- a kind the cluster does not serve (Istio's, without Istio) is empty, named in
  `problems`, and looked up again every `unserved_recheck_s` with fresh discovery.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from kmeshctl.backoff import jittered
from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import ApiError, KindNotServed

log = logging.getLogger("kmeshctl.waypoint.informer")

WATCH_TIMEOUT_S = (300, 330)  # each watch's timeoutSeconds, drawn from this range (spreads re-watches)
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
UNSERVED_RECHECK_S = 60.0
SHORT_WATCH_S = 0.5  # a watch ending this soon with no event was not ended by its timeout (client-go: 1 s)


@dataclass(frozen=True)
class Timing:
    """How often the informers talk to the API server (seconds)."""

    watch_timeout_s: tuple[int, int] = WATCH_TIMEOUT_S
    backoff_base_s: float = BACKOFF_BASE_S
    backoff_cap_s: float = BACKOFF_CAP_S
    unserved_recheck_s: float = UNSERVED_RECHECK_S

    def backoff(self, failures: int) -> float:
        """The wait before LIST number `failures` (>= 1) in a row after an error, with jitter."""
        return jittered(failures - 1, self.backoff_base_s, self.backoff_cap_s)


def object_key(obj: dict) -> str:
    """`namespace/name` (`/name` for a cluster-scoped object): sorted, the order LIST gives."""
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def unserved_problem(kind: str) -> str:
    return f"the cluster does not serve {kind}: it is not used"


class Informer:
    """One kind's LIST + WATCH loop (`run`, in its own thread) and its store."""

    def __init__(self, client: Any, kind: str, versions: tuple[str, ...], on_change: Callable[[], None],
                 stop: threading.Event, timing: Timing = Timing()) -> None:
        self.kind = kind
        self.versions = versions  # apiVersions to try, preferred first
        self._client = client
        self._on_change = on_change
        self._stop = stop
        self._timing = timing
        self._lock = threading.Lock()
        self._store: dict[str, dict] = {}
        self.api_version: Optional[str] = None  # the one served (None: none is, or not known yet)
        self.synced = False  # listed at least once, or known not to be served
        self.served: Optional[bool] = None
        self.resource_version = ""
        self.lists = 0
        self.watches = 0
        self.events = 0
        self.last_error = ""
        self._progressed = False  # since the last failure: an event arrived or a watch ended cleanly

    # ----- the loop ---------------------------------------------------------------------

    def run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                version = self._served_version()
                if version is None:
                    self._not_served()
                    failures = 0
                    self._stop.wait(self._timing.unserved_recheck_s)
                    continue
                self._list(version)
                self._watch(version)
                return  # stopped
            except Exception as err:  # noqa: BLE001 - any failure: LIST again after a back-off
                if self._stop.is_set():  # the stream was cut because everything is stopping
                    return
                if isinstance(err, KindNotServed):  # its CRD went away since discovery: look again
                    self._client = self._client.rediscovered()
                failures = 1 if self._progressed else failures + 1
                self._progressed = False
                self._failed(err, self._timing.backoff(failures))

    def _failed(self, err: Exception, delay: float) -> None:
        self.last_error = " ".join(str(err).split())[:300] or type(err).__name__
        expired = isinstance(err, ApiError) and err.status == 410
        log.warning("event=%s kind=%s error=%r relist_in=%.1fs", "watch_expired" if expired else "watch_error",
                    self.kind, self.last_error, delay)
        self._stop.wait(delay)

    def _served_version(self) -> Optional[str]:
        if self.served is False:  # looked up again with fresh discovery (CRDs come and go)
            self._client = self._client.rediscovered()
        return next((v for v in self.versions if self._client.is_served(v, self.kind)), None)

    def _not_served(self) -> None:
        with self._lock:
            news = self.served is not False or bool(self._store)
            self._store = {}
            self.served, self.api_version, self.synced, self.resource_version = False, None, True, ""
        if news:
            log.info("event=kind_not_served kind=%s recheck_every=%.0fs", self.kind,
                     self._timing.unserved_recheck_s)
            self._on_change()

    def _list(self, version: str) -> None:
        items, resource_version = self._client.list_with_version(version, self.kind)
        store = {object_key(o): _typed(o, version, self.kind) for o in items}
        with self._lock:
            self._store = store
            self.served, self.api_version, self.synced = True, version, True
            self.resource_version = resource_version
            self.lists += 1
        log.info("event=listed kind=%s apiVersion=%s objects=%d resourceVersion=%s",
                 self.kind, version, len(store), resource_version)
        self._on_change()

    def _watch(self, version: str) -> None:
        """Watch, and again from the last version after each clean end, until stopped;
        raises on any error (the caller lists again)."""
        while not self._stop.is_set():
            self.watches += 1
            started, events = time.monotonic(), 0
            for event in self._client.watch(version, self.kind, self.resource_version,
                                            random.randint(*self._timing.watch_timeout_s), self._stop):
                self._apply(event, version)
                events += 1
            if not events and time.monotonic() - started < SHORT_WATCH_S and not self._stop.is_set():
                # not its timeout: something in between ends watches, re-watching at once would spin
                raise KmeshctlError(f"the API server ended the {self.kind} watch at once, with no event")
            self._progressed = True  # a clean end (its timeout): resume from resource_version
            log.debug("event=rewatch kind=%s resourceVersion=%s", self.kind, self.resource_version)

    def _apply(self, event: dict, version: str) -> None:
        kind, obj = event.get("type"), event["object"]
        resource_version = str((obj.get("metadata") or {}).get("resourceVersion") or "")
        self._progressed = True
        if kind == "BOOKMARK":
            self.resource_version = resource_version or self.resource_version
            return
        if kind not in ("ADDED", "MODIFIED", "DELETED"):
            log.warning("event=watch_unknown_event kind=%s type=%r", self.kind, kind)
            return
        with self._lock:
            if self._stop.is_set():
                return
            if kind == "DELETED":
                self._store.pop(object_key(obj), None)
            else:
                self._store[object_key(obj)] = _typed(obj, version, self.kind)
            self.resource_version = resource_version or self.resource_version
            self.events += 1
        self._on_change()

    # ----- reads --------------------------------------------------------------------------

    def objects(self) -> list[dict]:
        """The store's objects in LIST order (by namespace/name); shared, do not modify."""
        with self._lock:
            return [self._store[k] for k in sorted(self._store)]

    def status(self) -> dict[str, Any]:
        return {"kind": self.kind, "apiVersion": self.api_version, "served": self.served, "synced": self.synced,
                "objects": len(self._store), "resourceVersion": self.resource_version, "lists": self.lists,
                "watches": self.watches, "events": self.events, "lastError": self.last_error}


def _typed(obj: dict, version: str, kind: str) -> dict:
    # Items of a LIST of built-in kinds carry no kind/apiVersion (watch events' objects do).
    obj.setdefault("kind", kind)
    obj.setdefault("apiVersion", version)
    return obj


class Informers:
    """The informers of several kinds, sharing one stop event and one change callback."""

    def __init__(self, client: Any, kinds: list[tuple[str, tuple[str, ...]]], on_change: Callable[[], None],
                 stop: threading.Event, timing: Timing = Timing()) -> None:
        self.by_kind = [Informer(client, kind, versions, on_change, stop, timing) for kind, versions in kinds]
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for informer in self.by_kind:
            thread = threading.Thread(target=informer.run, name=f"informer-{informer.kind}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float) -> None:
        """Wait (one shared deadline) for the loops to end after stop; a watch on a quiet
        stream only notices at its next event, and the threads are daemons."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def synced(self) -> bool:
        """Every kind listed at least once (or known not to be served)."""
        return all(i.synced for i in self.by_kind)

    def objects(self) -> tuple[list[dict], list[str]]:
        """Every object (kinds in order, each in LIST order), and the kinds not served."""
        objects = [o for informer in self.by_kind for o in informer.objects()]
        problems = [unserved_problem(i.kind) for i in self.by_kind if i.served is False]
        return objects, problems

    def status(self) -> list[dict[str, Any]]:
        return [i.status() for i in self.by_kind]
