"""The stand-in API server's HTTP front end: routing, JSON answers and `Status` errors,
chunked watch streams, and the WebSocket upgrade of `pods/exec` and `pods/portforward`.

Plain requests are answered under the server's lock; streaming answers (watches, exec,
port-forward) are registered under it and then served without it."""

from __future__ import annotations

import copy
import json
import socket
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Optional, Union
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from . import streams, tls
from .resources import TOKEN, TRUE_VALUES, HttpError, Resource, not_found, parse_bool
from .selectors import object_matcher
from .watch import DropConnection, Expired, WatchSession, expired_event, parse_watch_request, stream
from .websocket import HandshakeError, WebSocket, accept_key, check_upgrade, choose_protocol

if TYPE_CHECKING:
    from .server import StandinApiServer


class _HttpServer(ThreadingHTTPServer):
    """ThreadingHTTPServer with a real API server's listen backlog (Go listens with the
    kernel's somaxconn; the standard library's 5 drops handshakes of a busy test), HTTPS
    (tests/standin/tls.py: the TLS handshake in the request's own thread, so a slow or
    refusing client holds up no other), and a handler's unexpected exception kept on the
    stand-in (``handler_errors``) and printed with what the request was, so a test that
    sees a dropped connection can say why."""

    request_queue_size = 4096
    api: "StandinApiServer"

    def finish_request(self, request: Any, client_address: Any) -> None:
        connection = tls.accept(request)  # detaches ``request``: shutdown_request finds it closed
        if connection is None:
            return
        try:
            self.RequestHandlerClass(connection, client_address, self)
        finally:
            connection.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        text = traceback.format_exc()
        self.api.handler_errors.append(text)
        print(f"stand-in API server: a request from {client_address} failed:\n{text}", file=sys.stderr)


def serve(api: "StandinApiServer") -> ThreadingHTTPServer:
    handler = type("Handler", (_Handler,), {"api": api})
    http = _HttpServer(("127.0.0.1", 0), handler)
    http.api = api
    http.daemon_threads = True
    threading.Thread(target=http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return http


class WatchAnswer:
    def __init__(self, session: WatchSession, start: int, initial: list[dict], expired: Optional[Expired]) -> None:
        self.session, self.start, self.initial, self.expired = session, start, initial, expired

    def serve(self, handler: "_Handler") -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("Cache-Control", "no-cache, private")
        handler.end_headers()
        api = handler.api
        try:
            if self.expired is not None:
                handler.write_chunk(json.dumps(expired_event(self.expired)).encode() + b"\n")
            else:
                for event in stream(api.events, self.session, self.start, self.initial, api.bookmark_interval,
                                    api.stopping):
                    handler.write_chunk(json.dumps(event).encode() + b"\n")
            handler.write_chunk(b"")
        except DropConnection:
            handler.drop_connection()
        except OSError:
            self.session.outcome = "client-gone"
            handler.close_connection = True


class UpgradeAnswer:
    """A WebSocket session (exec or port-forward) to start after the 101 answer."""

    def __init__(self, protocol: str, make_session: Any) -> None:
        self.protocol, self.make_session = protocol, make_session

    def serve(self, handler: "_Handler") -> None:
        handler.send_response(101, "Switching Protocols")
        handler.send_header("Upgrade", "websocket")
        handler.send_header("Connection", "Upgrade")
        handler.send_header("Sec-WebSocket-Accept", accept_key(handler.headers["Sec-WebSocket-Key"]))
        handler.send_header("Sec-WebSocket-Protocol", self.protocol)
        handler.end_headers()
        handler.close_connection = True
        session = self.make_session(WebSocket(handler.connection, handler.rfile))
        handler.api.sessions.add(session)
        try:
            session.run()
        finally:
            handler.api.sessions.discard(session)


Answer = Union[tuple[int, dict], WatchAnswer, UpgradeAnswer]


class _Handler(BaseHTTPRequestHandler):
    api: "StandinApiServer"
    protocol_version = "HTTP/1.1"

    connection: tls.TlsConnection

    def setup(self) -> None:
        # The connection is a tls.TlsConnection (several threads share it once upgraded):
        # all reads and writes go through it, never around it to the SSL socket.
        self.connection = self.request
        self.rfile = self.connection.reader()
        self.wfile = self.connection.writer()
        # Headers and body go out in two writes: without NODELAY, Nagle + delayed ACK add 40 ms each.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

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
        from .server import Request

        url = urlsplit(self.path)
        values = parse_qs(url.query, keep_blank_values=True)
        query = {k: v[0] for k, v in values.items()}
        watching = method == "GET" and query.get("watch") in TRUE_VALUES
        try:
            body = self.read_body()
        except HttpError as err:
            self.api.requests.append(Request(method, url.path, False, watching))
            self.send_json(err.code, err.status())
            return
        asked = self.dry_run_asked(method, values, body)
        dry_run = asked == ["All"]
        self.api.requests.append(Request(method, url.path, dry_run, watching))
        try:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                raise HttpError(401, "Unauthorized", "Unauthorized")
            if asked and not dry_run:
                raise HttpError(400, "BadRequest", f"invalid dry run value: {asked} (only All is valid)")
            parts = [unquote(p) for p in url.path.strip("/").split("/")]
            with self.api.lock:
                answer: Answer = self.route(method, parts, query, values, body, dry_run)
        except HttpError as err:
            answer = (err.code, err.status())
        if isinstance(answer, tuple):
            self.send_json(*answer)
        elif isinstance(answer, UpgradeAnswer) and self.api.take_dropped_upgrade():
            self.drop_connection()
        else:
            answer.serve(self)

    @staticmethod
    def dry_run_asked(method: str, values: dict[str, list[str]], body: Any) -> list[str]:
        """The dryRun values the request asks for ([] none, ["All"] a dry run). A DELETE
        with a body (even `{}`) takes its options, dryRun among them, from the DeleteOptions
        body alone and ignores the query, as kube-apiserver's delete handler decodes them:
        a dryRun only in the query then deletes for real there."""
        if method == "DELETE" and body is not None:
            return list(body.get("dryRun") or []) if isinstance(body, dict) else []
        return values.get("dryRun", [])

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

    def write_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def drop_connection(self) -> None:
        """Cut the connection mid-response (no final chunk): what the client sees when an
        API server or a load balancer in front of it goes away."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    # -- routing ---------------------------------------------------------------------------

    def route(self, method: str, parts: list[str], query: dict, values: dict, body: Any,
              dry_run: bool) -> Answer:
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
        if len(rest) == 3:
            return self.on_subresource(method, res, namespace, name, rest[2], values)
        if len(rest) > 3:
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        if method == "GET" and parse_bool(query.get("watch")):
            return self.watch(res, namespace, name, query)
        if name:
            return self.on_object(method, res, namespace, name, query, body, dry_run)
        return self.on_collection(method, res, namespace, query, body, dry_run)

    def watch(self, res: Resource, namespace: str, name: str, query: dict) -> WatchAnswer:
        fields = query.get("fieldSelector", "")
        if name:  # a watch on one object is a watch on its collection for that name
            fields = ",".join(f for f in (fields, f"metadata.name={name}") if f)
        match = object_matcher(query.get("labelSelector", ""), fields)
        request = parse_watch_request(res, namespace, query, match)
        return WatchAnswer(*self.api.open_watch(self.path, request))

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
                raise not_found(res, name)
            return 200, copy.deepcopy(api.objects[key])
        if method == "DELETE":
            check_preconditions(api.objects.get(key), body)
            return 200, api.delete(res, key, dry_run)
        if not isinstance(body, dict):
            raise HttpError(400, "BadRequest", "the request body must be an object")
        if method == "PUT":
            check_body_matches(res, body, namespace, name)
            if key not in api.objects:
                raise not_found(res, name)
            sent_version = body.get("metadata", {}).get("resourceVersion")
            if sent_version and sent_version != api.objects[key]["metadata"]["resourceVersion"]:
                raise HttpError(409, "Conflict", "the object has been modified; please apply your changes "
                                "to the latest version and try again")
            return 200, copy.deepcopy(api.replace(res, key, body, query.get("fieldManager", "unknown"), dry_run))
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type == "application/apply-patch+yaml":
            manager = query.get("fieldManager")
            if not manager:
                raise HttpError(400, "BadRequest", "PATCH requests of type apply require fieldManager")
            check_body_matches(res, body, namespace, name)
            code, obj = api.apply(res, key, body, manager, query.get("force") == "true", dry_run)
            return code, copy.deepcopy(obj)
        if content_type in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            check_patch_preconditions(res, api.objects.get(key), body)
            return 200, copy.deepcopy(api.merge_patch(res, key, body, query.get("fieldManager", "unknown"), dry_run))
        raise HttpError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format "
                        f"- accepted media types include: application/json-patch+json, application/merge-"
                        f"patch+json, application/apply-patch+yaml (got {content_type!r})")

    def on_subresource(self, method: str, res: Resource, namespace: str, name: str, sub: str,
                       values: dict) -> UpgradeAnswer:
        if res.kind != "Pod" or sub not in ("exec", "portforward"):
            raise HttpError(404, "NotFound", "the server could not find the requested resource")
        pod = self.api.objects.get((res.group, res.plural, namespace, name))
        if pod is None:
            raise not_found(res, name)
        if sub == "exec":
            options = streams.exec_options(values, pod)
            protocol = self.upgrade_protocol(method, streams.EXEC_PROTOCOLS)
            backend = self.backend(pod, options.container)
            return UpgradeAnswer(protocol, lambda ws: streams.ExecSession(ws, protocol, options, backend))
        ports = streams.forward_ports(values)
        streams.check_runnable(pod)
        protocol = self.upgrade_protocol(method, streams.PORT_FORWARD_PROTOCOLS)
        backend = self.backend(pod, pod["spec"]["containers"][0]["name"])
        return UpgradeAnswer(protocol, lambda ws: streams.PortForwardSession(ws, ports, backend, copy.deepcopy(pod)))

    def upgrade_protocol(self, method: str, supported: list[str]) -> str:
        try:
            check_upgrade(method, self.headers)
        except HandshakeError as err:
            raise HttpError(err.code, "BadRequest", str(err)) from err
        offered = self.headers.get("Sec-WebSocket-Protocol")
        protocol = choose_protocol(offered, supported)
        if protocol is None:
            raise HttpError(400, "BadRequest", f"requested protocol(s) are not supported: [{offered or ''}]; "
                            f"supports [{' '.join(supported)}]")
        return protocol

    def backend(self, pod: dict, container: str) -> Any:
        backend = self.api.backend_of(pod)
        if backend is None:
            raise HttpError(400, "BadRequest", f'unable to upgrade connection: container not found ("{container}")')
        return backend


def check_patch_preconditions(res: Resource, current: Optional[dict], body: dict) -> None:
    """A merge patch's metadata.uid and resourceVersion act as preconditions: 409 Conflict,
    as kube-apiserver answers, when the object is another or was changed since."""
    meta = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    have = (current or {}).get("metadata") or {}
    if current is None:
        return
    if meta.get("uid") and meta["uid"] != have.get("uid"):
        raise HttpError(409, "Conflict", f"Precondition failed: UID in precondition: {meta['uid']}, UID in object "
                        f"meta: {have.get('uid')}")
    if meta.get("resourceVersion") and meta["resourceVersion"] != have.get("resourceVersion"):
        raise HttpError(409, "Conflict", f"Operation cannot be fulfilled on {res.plural} \"{have.get('name')}\": "
                        "the object has been modified; please apply your changes to the latest version and try again")


def check_preconditions(obj: Optional[dict], body: Any) -> None:
    """A DELETE's DeleteOptions.preconditions (uid, resourceVersion): 409 Conflict, as
    kube-apiserver answers, when the stored object is not the one they name."""
    wanted = (body.get("preconditions") or {}) if isinstance(body, dict) else {}
    meta = (obj or {}).get("metadata", {})
    for field in ("uid", "resourceVersion"):
        if obj is not None and wanted.get(field) and wanted[field] != meta.get(field):
            raise HttpError(409, "Conflict", f"Precondition failed: {field} in precondition: {wanted[field]}, "
                            f"{field} in object meta: {meta.get(field)}")


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
