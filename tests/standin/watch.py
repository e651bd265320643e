"""Watches (`GET <collection>?watch=1`) with the real API server's semantics
(Kubernetes API concepts, "efficient detection of changes"):

- every stored change is an event `{"type": "ADDED"|"MODIFIED"|"DELETED", "object": ...}`
  at the revision it was stored with; a DELETED event carries the object's last state
  with the revision of the deletion;
- `resourceVersion=R` streams the changes after R; unset or "0": first one synthetic
  ADDED per existing object, then the changes after that state;
- label and field selectors filter events the way the watch cache does: an object that
  starts matching arrives as ADDED, one that stops matching as DELETED;
- only a bounded history is kept (`history_limit` events, or `compact()` as etcd
  compaction does): a watch from a revision older than what is kept gets a single
  ERROR event with a `410 Gone` Status (reason Expired) and the stream ends;
- `allowWatchBookmarks=true`: BOOKMARK events every `bookmark_interval` seconds carrying
  only `metadata.resourceVersion` (the revision the watch has seen everything up to);
- `timeoutSeconds`: the stream ends cleanly after that long (default, as the real server:
  a random time between 30 and 60 minutes);
- `sendInitialEvents` is refused as by a 1.30 server without the WatchList feature gate.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Iterator, Optional

from .resources import HttpError, Resource, parse_bool, status_failure
from .selectors import ObjectMatch

MIN_REQUEST_TIMEOUT_S = 1800


@dataclass(frozen=True)
class Event:
    revision: int
    type: str  # ADDED | MODIFIED | DELETED
    resource: tuple[str, str]  # (group, plural)
    obj: dict  # the new state; for DELETED the last state, at the deletion's revision
    previous: Optional[dict]  # the state before (None for ADDED)


class Expired(Exception):
    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")


class EventLog:
    """The change history watches read from, with etcd-like compaction.

    A new watch from a revision below `compacted` gets 410 Gone. Watches already open keep
    receiving every event (the real watch cache has already handed them over), unless a
    watch falls so far behind that events it has not read leave memory (`history_limit`):
    then its stream ends, as the real server ends a watcher that cannot keep up."""

    def __init__(self, history_limit: int = 1000) -> None:
        self.history_limit = history_limit
        self.cond = threading.Condition()
        self.events: deque[Event] = deque()
        self.compacted = 0  # a watch from before this revision gets 410 Gone
        self.trimmed = 0  # events at or below this revision are gone from memory

    def append(self, event: Event) -> None:
        with self.cond:
            self.events.append(event)
            while len(self.events) > self.history_limit:
                self.trimmed = self.events.popleft().revision
                self.compacted = max(self.compacted, self.trimmed)
            self.cond.notify_all()

    def compact(self, revision: int) -> None:
        with self.cond:
            self.compacted = max(self.compacted, revision)

    def check_available(self, revision: int) -> None:
        with self.cond:
            if revision < self.compacted:
                raise Expired(revision, self.compacted)

    def after(self, revision: int) -> list[Event]:
        with self.cond:
            return [e for e in self.events if e.revision > revision]

    def wake_all(self) -> None:
        with self.cond:
            self.cond.notify_all()


@dataclass
class WatchRequest:
    resource: Resource
    namespace: str
    match: ObjectMatch
    resource_version: str
    timeout_s: float
    bookmarks: bool


class DropConnection(Exception):
    """The stand-in was told to drop the stream without ending it properly."""


@dataclass
class WatchSession:
    """One watch request. `end` is set to "clean" or "abrupt" to end it from outside;
    `outcome` says how it ended ("expired" for a 410, "timeout", "clean", "abrupt",
    "too slow", "client-gone")."""

    path: str
    request: WatchRequest
    end: Optional[str] = None
    outcome: Optional[str] = None
    sent: list[str] = field(default_factory=list)  # event types, in order


def parse_watch_request(res: Resource, namespace: str, query: dict, match: ObjectMatch) -> WatchRequest:
    if "sendInitialEvents" in query:
        raise HttpError(422, "Invalid", "ListOptions.meta.k8s.io \"\" is invalid: sendInitialEvents: "
                        "Forbidden: sendInitialEvents is forbidden for watch unless the WatchList feature "
                        "gate is enabled",
                        {"kind": "ListOptions", "group": "meta.k8s.io",
                         "causes": [{"reason": "FieldValueForbidden", "field": "sendInitialEvents",
                                     "message": "Forbidden: sendInitialEvents is forbidden for watch "
                                                "unless the WatchList feature gate is enabled"}]})
    version = query.get("resourceVersion", "")
    if version and not version.isdigit():
        raise HttpError(400, "BadRequest", f'Invalid value: "{version}": resourceVersion must be a '
                        "resource version returned by the server")
    timeout = query.get("timeoutSeconds")
    if timeout is not None and not timeout.isdigit():
        raise HttpError(400, "BadRequest", f'Invalid value: "{timeout}": timeoutSeconds must be an integer')
    timeout_s = float(timeout) if timeout else random.uniform(MIN_REQUEST_TIMEOUT_S, 2 * MIN_REQUEST_TIMEOUT_S)
    return WatchRequest(res, namespace, match, version, timeout_s, parse_bool(query.get("allowWatchBookmarks")))


def convert(event: Event, request: WatchRequest) -> Optional[dict]:
    """What one stored change looks like to this watch (None: not its business)."""
    if event.resource != (request.resource.group, request.resource.plural):
        return None
    if request.namespace and event.obj.get("metadata", {}).get("namespace") != request.namespace:
        return None
    was = event.previous is not None and request.match(event.previous)
    now = event.type != "DELETED" and request.match(event.obj)
    if was and now:
        return {"type": "MODIFIED", "object": event.obj}
    if now:
        return {"type": "ADDED", "object": event.obj}
    if was:
        if event.type == "DELETED":
            return {"type": "DELETED", "object": event.obj}
        gone = copy.deepcopy(event.previous)
        gone["metadata"]["resourceVersion"] = str(event.revision)
        return {"type": "DELETED", "object": gone}
    return None


def bookmark(request: WatchRequest, revision: int) -> dict:
    res = request.resource
    return {"type": "BOOKMARK", "object": {"kind": res.kind, "apiVersion": res.api_version,
                                           "metadata": {"resourceVersion": str(revision)}}}


def expired_event(err: Expired) -> dict:
    return {"type": "ERROR", "object": status_failure(410, "Expired", str(err))}


def stream(log: EventLog, session: WatchSession, start: int, initial: list[dict],
           bookmark_interval: float, stopping: threading.Event) -> Iterator[dict]:
    """The events of one watch, from revision `start` (after the synthetic `initial` ones)."""
    request = session.request
    for obj in initial:
        session.sent.append("ADDED")
        yield {"type": "ADDED", "object": obj}
    deadline = time.monotonic() + request.timeout_s
    next_bookmark = time.monotonic() + bookmark_interval
    seen = start
    while True:
        with log.cond:
            pending = log.after(seen)
            if not pending and session.end is None and not stopping.is_set():
                wake = min(deadline, next_bookmark if request.bookmarks else deadline)
                log.cond.wait(max(0.0, wake - time.monotonic()))
                pending = log.after(seen)
            if seen < log.trimmed:  # fell behind what memory holds: end, the client resumes (410)
                session.outcome = "too slow"
                return
        for event in pending:
            seen = event.revision
            converted = convert(event, request)
            if converted is not None:
                session.sent.append(converted["type"])
                yield converted
        if session.end == "abrupt" or stopping.is_set():
            session.outcome = "abrupt"
            raise DropConnection()
        if session.end == "clean" or time.monotonic() >= deadline:
            session.outcome = session.end or "timeout"
            return
        if request.bookmarks and time.monotonic() >= next_bookmark:
            session.sent.append("BOOKMARK")
            yield bookmark(request, seen)
            next_bookmark = time.monotonic() + bookmark_interval
