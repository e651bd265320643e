"""Talking to the Kubernetes API: load the kubeconfig (or in-cluster config) and a thin
JSON client on top of the official `kubernetes` package: discovery of served kinds,
server-side apply, get, list, patch, delete and create.

Objects are plain dicts (the API's JSON), so rendered manifests go out unchanged."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Optional
from urllib.parse import quote

import yaml

from kmeshctl.errors import KmeshctlError, UsageError

if TYPE_CHECKING:
    import threading

    from kubernetes import client as k8s

FIELD_MANAGER = "kmeshctl"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
WATCH_TIMEOUT_S = 300  # a watch's timeoutSeconds: the server ends the stream then
WATCH_READ_SLACK_S = 30.0  # a watch's read timeout beyond that: only a dead connection hits it
SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


@dataclass
class KubeTarget:
    """Which cluster to talk to: a kubeconfig file and context (None: the defaults)."""

    kubeconfig: Optional[str] = None
    context: Optional[str] = None


# The one target of this process; the CLI's global --kubeconfig/--context set it.
TARGET = KubeTarget()


class ApiError(KmeshctlError):
    """The API server answered with a non-2xx status (its Status message and causes are kept)."""

    def __init__(self, status: int, reason: str, message: str, causes: tuple[dict, ...] = ()) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.causes = causes


class ApplyConflict(ApiError):
    """409 from server-side apply: another field manager owns fields kmeshctl sets."""

    FIX = "remove that manager's values for these fields (or delete the object), then re-run"

    def __init__(self, obj: dict, err: ApiError) -> None:
        self.problem = conflict_problem(obj, err)
        super().__init__(409, err.reason, f"{self.problem}. Fix: {self.FIX}", err.causes)


class ApiUnreachable(KmeshctlError):
    """No answer from the API server at all."""


class KindNotServed(KmeshctlError):
    """The cluster does not serve this apiVersion/kind (for example: no Istio CRDs)."""


@dataclass(frozen=True)
class ResourceKind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def collection_path(self, namespace: Optional[str] = None) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            return f"{root}/namespaces/{quote(namespace, safe='')}/{self.plural}"
        return f"{root}/{self.plural}"

    def object_path(self, name: str, namespace: Optional[str] = None) -> str:
        return f"{self.collection_path(namespace)}/{quote(name, safe='')}"


def load_configuration() -> k8s.Configuration:
    """Kubeconfig from --kubeconfig/KUBECONFIG (+ --context), else in-cluster, else ~/.kube/config.

    A named kubeconfig that is missing, does not parse, or lacks the --context asked for is
    a UsageError (exit 2) naming the path, or the contexts it has."""
    # The Kubernetes client (0.2 s and ~25 MB to import) is loaded when a cluster is used,
    # not by every command, `--help` included.
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    cfg = k8s.Configuration()
    if TARGET.kubeconfig is None and TARGET.context is None and running_in_cluster():
        k8s_config.load_incluster_config(client_configuration=cfg)
        ORIGIN[id(cfg)] = "the in-cluster service account"
        return cfg
    path = TARGET.kubeconfig or os.path.expanduser(DEFAULT_KUBECONFIG)
    found = check_kubeconfig(path, TARGET.context, explicit=TARGET.kubeconfig is not None)
    # Named always: with a KUBECONFIG list, the client library takes the last file's
    # current-context, kubectl (and the messages here) the first file's that sets one.
    context = TARGET.context or found.current or None
    try:
        k8s_config.load_kube_config(
            config_file=os.pathsep.join(found.files), context=context, client_configuration=cfg,
            persist_config=False
        )
    except (ConfigException, OSError, ValueError) as err:
        raise _config_error(f"cannot load kubeconfig {path} ({_one_line(err)}); pass --kubeconfig PATH "
                            "and --context NAME of a cluster you can reach", TARGET.kubeconfig) from err
    ORIGIN[id(cfg)] = _origin_text(found, TARGET.context)
    return cfg


DEFAULT_KUBECONFIG = "~/.kube/config"
# Where each loaded configuration came from, for "cannot reach" messages: keyed by id().
ORIGIN: dict[int, str] = {}


def _origin_text(found: "KubeconfigFiles", context: Optional[str]) -> str:
    """`kubeconfig /root/.kube/config, context prod` (the current context when none was given)."""
    return f"kubeconfig {os.pathsep.join(found.files)}, context {context or found.current or 'none'}"


def _one_line(err: BaseException) -> str:
    """The reason alone: an OSError's text without its file name (the message names it)."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return " ".join(str(err).split()) or "no detail"


def _config_error(message: str, explicit: Optional[str]) -> KmeshctlError:
    """Bad input (exit 2) when the user named the kubeconfig or context, else a failure."""
    return UsageError(message) if explicit is not None or TARGET.context else KmeshctlError(message)


@dataclass(frozen=True)
class KubeconfigFiles:
    """The kubeconfig files in use (each parsed once): the paths that exist, their context
    names (merged as kubectl does) and the current context ("" when none is set)."""

    files: list[str]
    contexts: list[str]
    current: str


def check_kubeconfig(path: str, context: Optional[str], explicit: bool) -> KubeconfigFiles:
    """The files of ``path`` that exist (a KUBECONFIG-style list: as kubectl, missing
    entries are skipped) with their contexts; a one-line error when none exists, or
    ``context`` is not one of their contexts (they are listed)."""
    files = [os.path.expanduser(p) for p in path.split(os.pathsep) if p]
    present = [p for p in files if os.path.exists(p)]
    if not present and not explicit and context is not None:
        raise UsageError(f"--context {context}: no kubeconfig to look it up in ({files[0] if files else path} does "
                         "not exist); pass --kubeconfig PATH of the file that has it")
    if not present and not explicit:
        raise KmeshctlError(f"no cluster configured: {files[0] if files else path} does not exist; point "
                            "kmeshctl at a cluster with --kubeconfig PATH (or KUBECONFIG=PATH) and "
                            "--context NAME")
    if not files:
        raise _config_error(f"the kubeconfig path {path!r} names no file; pass --kubeconfig PATH "
                            "(or set KUBECONFIG to a file)", path)
    if not present:
        what = f"{files[0]} does not exist" if len(files) == 1 else f"none of {', '.join(files)} exists"
        raise _config_error(f"cannot load kubeconfig: {what}; pass --kubeconfig PATH of an existing file "
                            "(or fix KUBECONFIG)", path)
    names, current = _contexts_of(present, path if explicit else None)
    if not names:
        raise _config_error(f"kubeconfig {path} has no contexts (empty, or not a kubeconfig): pass --kubeconfig "
                            "PATH of one that has (`kubectl config get-contexts` lists a file's contexts)",
                            path if explicit else context)
    if context is not None and context not in names:
        raise UsageError(f"--context {context}: no such context in {path} (contexts: "
                         f"{', '.join(names) or 'none'}); pass --context with one of them")
    if context is None and not current:
        raise _config_error(f"kubeconfig {path} has no current-context: pass --context NAME "
                            f"(contexts: {', '.join(names) or 'none'})", path if explicit else None)
    return KubeconfigFiles(present, names, current)


def _contexts_of(files: list[str], explicit: Optional[str]) -> tuple[list[str], str]:
    """The context names of the kubeconfig files (merged as kubectl does) and the current one."""
    names: list[str] = []
    current = ""
    for file in files:
        try:
            config = _read_kubeconfig(file)
        except UnicodeDecodeError as err:
            raise _config_error(f"cannot load kubeconfig {file} (not UTF-8 text); pass --kubeconfig "
                                "PATH of a valid kubeconfig", explicit) from err
        except (OSError, yaml.YAMLError) as err:
            raise _config_error(f"cannot load kubeconfig {file} ({_one_line(err)}); pass --kubeconfig "
                                "PATH of a valid kubeconfig", explicit) from err
        if not isinstance(config, dict):
            raise _config_error(f"cannot load kubeconfig {file} (not a kubeconfig mapping); pass "
                                "--kubeconfig PATH of a valid kubeconfig", explicit)
        names += [c.get("name", "") for c in config.get("contexts") or [] if isinstance(c, dict)]
        current = current or str(config.get("current-context") or "")
    return names, current


def _read_kubeconfig(file: str) -> Any:
    """One kubeconfig file parsed (the only place kmeshctl reads one itself)."""
    with open(file, encoding="utf-8") as handle:
        return yaml.safe_load(handle) or {}


def context_names(kubeconfig: Optional[str] = None) -> list[str]:
    """The contexts of ``kubeconfig`` (else the one in use: --kubeconfig / KUBECONFIG /
    ~/.kube/config); empty when there is none or it does not load (for shell completion)."""
    path = kubeconfig or TARGET.kubeconfig or os.environ.get("KUBECONFIG") or \
        os.path.expanduser(DEFAULT_KUBECONFIG)
    files = [p for p in (os.path.expanduser(f) for f in path.split(os.pathsep) if f) if os.path.exists(p)]
    try:
        return _contexts_of(files, None)[0]
    except KmeshctlError:
        return []


def kubeconfig_named() -> bool:
    """The user chose a kubeconfig or context (flag or KUBECONFIG), rather than the defaults."""
    return TARGET.kubeconfig is not None or TARGET.context is not None


def running_in_cluster() -> bool:
    """Inside a pod with a service account: the in-cluster config is usable."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(SERVICE_ACCOUNT_TOKEN)


def connect() -> "KubeClient":
    from kubernetes import client as k8s

    return KubeClient(k8s.ApiClient(load_configuration()))


def connect_reachable() -> "KubeClient":
    """A client of a cluster that answers: asks its version, so an unreachable or
    unauthorized cluster fails here with a clear message, before any other call."""
    client = connect()
    client.server_version()
    return client


def core_v1_api() -> k8s.CoreV1Api:
    """The official typed client, for what the JSON client does not do (watch, exec, port-forward)."""
    from kubernetes import client as k8s

    return k8s.CoreV1Api(k8s.ApiClient(load_configuration()))


def stream_refusal(err: BaseException) -> str:
    """One line from a failed exec / port-forward WebSocket upgrade: the HTTP status and the
    API's Status message (the client's own text spans lines with every response header)."""
    refused = err.__context__ or err.__cause__
    code = getattr(refused, "status_code", None)
    if code is None:
        return " ".join(str(err).split())[:200]
    body = getattr(refused, "resp_body", None) or b""
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = getattr(refused, "status_message", "") or ""
    return f"the API server answered {code}: {' '.join(str(message).split())}"


class KubeClient:
    """A thin JSON client: one method per API verb the commands use."""

    def __init__(self, api_client: k8s.ApiClient) -> None:
        self._api = api_client
        self._group_versions: Optional[set[str]] = None
        self._resources: dict[str, dict[str, ResourceKind]] = {}

    @property
    def host(self) -> str:
        return self._api.configuration.host

    @property
    def origin(self) -> str:
        """Where its configuration came from (kubeconfig and context), for messages."""
        return ORIGIN.get(id(self._api.configuration), "kubeconfig and context as given")

    # -- raw requests --------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        query: Optional[dict[str, str]] = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Optional[dict]:
        """One API call; returns the decoded JSON body (None on 404 for GET)."""
        headers = {"Accept": "application/json"}
        if body is not None:
            # The REST layer sends dicts as JSON for JSON and YAML content types alike
            # (JSON is valid YAML, so apply-patch+yaml accepts it).
            headers["Content-Type"] = content_type
        query_params = [(k, v) for k, v in (query or {}).items() if v is not None]
        _, url, headers, _, _ = self._api.param_serialize(
            method, path, query_params=query_params or None, header_params=headers,
            auth_settings=["BearerToken"],
        )
        import urllib3

        try:
            response = self._api.call_api(
                method, url, header_params=headers, body=body, _request_timeout=REQUEST_TIMEOUT
            )
            response.read()
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise self._unreachable(err) from err
        if method == "GET" and response.status == 404:
            return None
        data = _decode(response.data)
        if not 200 <= response.status < 300:
            raise _api_error(response.status, method, path, data)
        return data

    # -- discovery -----------------------------------------------------------

    def server_version(self) -> dict:
        return self.request("GET", "/version") or {}

    def served_group_versions(self) -> set[str]:
        if self._group_versions is None:
            core = self.request("GET", "/api") or {}
            groups = self.request("GET", "/apis") or {}
            served = set(core.get("versions", []))
            for group in groups.get("groups", []):
                served.update(v["groupVersion"] for v in group.get("versions", []))
            self._group_versions = served
        return self._group_versions

    def resources_of(self, api_version: str) -> dict[str, ResourceKind]:
        """The kinds served under one apiVersion (empty when the group/version is not served)."""
        if api_version not in self._resources:
            self._resources[api_version] = self._discover(api_version)
        return self._resources[api_version]

    def _discover(self, api_version: str) -> dict[str, ResourceKind]:
        if api_version not in self.served_group_versions():
            return {}
        group, _, version = api_version.rpartition("/")
        path = f"/apis/{api_version}" if group else f"/api/{api_version}"
        listing = self.request("GET", path) or {}
        kinds: dict[str, ResourceKind] = {}
        for res in listing.get("resources", []):
            if "/" in res["name"]:  # subresources such as daemonsets/status
                continue
            kinds[res["kind"]] = ResourceKind(group, version, res["kind"], res["name"], res["namespaced"])
        return kinds

    def is_served(self, api_version: str, kind: str) -> bool:
        return kind in self.resources_of(api_version)

    def kind(self, api_version: str, kind: str) -> ResourceKind:
        found = self.resources_of(api_version).get(kind)
        if found is None:
            raise KindNotServed(f"the cluster does not serve {kind} ({api_version})")
        return found

    # -- verbs ---------------------------------------------------------------

    def get(self, api_version: str, kind: str, name: str, namespace: Optional[str] = None) -> Optional[dict]:
        return self.request("GET", self.kind(api_version, kind).object_path(name, namespace))

    def list(
        self,
        api_version: str,
        kind: str,
        namespace: Optional[str] = None,
        label_selector: Optional[str] = None,
        field_selector: Optional[str] = None,
    ) -> list[dict]:
        path = self.kind(api_version, kind).collection_path(namespace)
        query = {"labelSelector": label_selector, "fieldSelector": field_selector}
        return (self.request("GET", path, query) or {}).get("items", [])

    def apply(self, obj: dict, dry_run: bool = False) -> dict:
        """Server-side apply as field manager `kmeshctl`, never forcing another manager's fields.

        `dry_run`: dryRun=All, the API server's whole write path (admission, validation,
        field-manager conflicts) without storing anything."""
        meta = obj["metadata"]
        path = self.kind(obj["apiVersion"], obj["kind"]).object_path(meta["name"], meta.get("namespace"))
        query = {"fieldManager": FIELD_MANAGER, "force": "false", "dryRun": "All" if dry_run else None}
        try:
            return self.request("PATCH", path, query, obj, APPLY_PATCH) or {}
        except ApiError as err:
            if err.status != 409:
                raise
            raise ApplyConflict(obj, err) from err

    def merge_patch(
        self, api_version: str, kind: str, name: str, patch: dict, namespace: Optional[str] = None
    ) -> dict:
        path = self.kind(api_version, kind).object_path(name, namespace)
        query = {"fieldManager": FIELD_MANAGER}
        return self.request("PATCH", path, query, patch, MERGE_PATCH) or {}

    def create(self, api_version: str, kind: str, body: dict, namespace: Optional[str] = None) -> dict:
        path = self.kind(api_version, kind).collection_path(namespace)
        return self.request("POST", path, {"fieldManager": FIELD_MANAGER}, body) or {}

    def delete(self, api_version: str, kind: str, name: str, namespace: Optional[str] = None,
               propagation: str = "Background") -> bool:
        """Delete with ``propagation`` (Background, Foreground, Orphan); False when the
        object was already gone."""
        path = self.kind(api_version, kind).object_path(name, namespace)
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation}
        try:
            self.request("DELETE", path, body=body)
        except ApiError as err:
            if err.status == 404:
                return False
            raise
        return True


    # -- list + watch (informers) ----------------------------------------------

    def list_with_version(
        self, api_version: str, kind: str, namespace: Optional[str] = None, label_selector: Optional[str] = None
    ) -> tuple[list[dict], str]:
        """LIST a collection: its items and the list's ``metadata.resourceVersion``, the
        version a watch of the same collection starts from. Raises KindNotServed when the
        collection answers 404 (its CRD went away since discovery), else as `request`."""
        path = self.kind(api_version, kind).collection_path(namespace)
        data = self.request("GET", path, {"labelSelector": label_selector})
        if data is None:
            raise KindNotServed(f"the cluster no longer serves {kind} ({api_version}): GET {path} answered 404")
        return data.get("items") or [], str((data.get("metadata") or {}).get("resourceVersion") or "")

    def watch(
        self,
        api_version: str,
        kind: str,
        resource_version: str,
        timeout_seconds: int = WATCH_TIMEOUT_S,
        stop: Optional["threading.Event"] = None,
        namespace: Optional[str] = None,
        label_selector: Optional[str] = None,
    ) -> Iterator[dict]:
        """WATCH a collection from ``resource_version`` (a list's, or the last event's), with
        bookmarks: yields each event as the server sends it, ``{"type": "ADDED" | "MODIFIED" |
        "DELETED", "object": obj}`` or ``{"type": "BOOKMARK", "object": {"metadata":
        {"resourceVersion": rv}}}``. Ends when the server ends the stream (after
        ``timeout_seconds``: watch again from the last version seen), or between two events
        once ``stop`` is set.

        Raises ApiError for a refused watch and for an ERROR event (``.status`` 410: the
        version is no longer kept, LIST again), KindNotServed on 404, ApiUnreachable when the
        connection fails or breaks mid-stream."""
        import urllib3

        path = self.kind(api_version, kind).collection_path(namespace)
        query = [("watch", "1"), ("resourceVersion", resource_version), ("allowWatchBookmarks", "true"),
                 ("timeoutSeconds", str(int(timeout_seconds)))]
        if label_selector:
            query.append(("labelSelector", label_selector))
        _, url, headers, _, _ = self._api.param_serialize(
            "GET", path, query_params=query, header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        try:  # the client never preloads a body: the answer is read below, line by line
            response = self._api.call_api("GET", url, header_params=headers, _request_timeout=(
                REQUEST_TIMEOUT[0], timeout_seconds + WATCH_READ_SLACK_S))
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise self._unreachable(err) from err
        raw, finished = response.response, False
        try:
            if response.status == 404:
                raise KindNotServed(f"the cluster no longer serves {kind} ({api_version}): "
                                    f"WATCH {path} answered 404")
            if not 200 <= response.status < 300:
                raise _api_error(response.status, "WATCH", path, _decode(response.read()))
            for line in _stream_lines(raw):
                if stop is not None and stop.is_set():
                    return
                yield _watch_event(line, path)
            finished = True
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise self._unreachable(err) from err
        finally:
            if not finished:  # left mid-stream: the connection cannot serve another request
                raw.close()
            raw.release_conn()

    def rediscovered(self) -> "KubeClient":
        """A client on the same connection whose discovery starts afresh (each client keeps
        what the cluster serves for its lifetime): to notice CRDs installed or removed since."""
        return KubeClient(self._api)

    def _unreachable(self, err: BaseException) -> ApiUnreachable:
        return ApiUnreachable(
            f"cannot reach the Kubernetes API at {self.host} ({transport_reason(err)}; {self.origin}): check "
            "that the cluster is up, or pass --kubeconfig/--context of one that is"
        )


def _stream_lines(raw: Any) -> Iterator[bytes]:
    """The non-empty lines of a streamed answer (urllib3's), each as soon as it is complete."""
    pending = b""
    for chunk in raw.stream(amt=None, decode_content=True):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from (line for line in lines if line.strip())
    if pending.strip():
        yield pending


def _watch_event(line: bytes, path: str) -> dict:
    """One watch event; an ERROR event (its object a Status) raised as the ApiError it carries."""
    try:
        event = json.loads(line)
    except ValueError as err:
        raise KmeshctlError(f"WATCH {path}: the API server sent a line that is not a JSON event: "
                            f"{line[:80]!r}") from err
    if not isinstance(event, dict) or not isinstance(event.get("object"), dict):
        raise KmeshctlError(f"WATCH {path}: the API server sent an event without an object: {line[:80]!r}")
    if event.get("type") == "ERROR":
        status = event["object"]
        raise _api_error(int(status.get("code") or 500), "WATCH", path, status)
    return event


_ERRNO = re.compile(r"\[Errno -?\d+\] [^'\")\]]+|timed out|Name or service not known|certificate verify failed")


def transport_reason(err: BaseException) -> str:
    """What went wrong on the wire, in words (urllib3 wraps it in its own class names)."""
    found = _ERRNO.search(str(err))
    return found.group(0).strip() if found else "no answer"


def _decode(raw: bytes) -> Optional[dict]:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"message": raw.decode("utf-8", "replace")[:200]}


def _api_error(status: int, method: str, path: str, data: Optional[dict]) -> ApiError:
    data = data or {}
    reason = data.get("reason", "")
    message = " ".join((data.get("message") or f"HTTP {status}").split())  # one line
    if status in (401, 403):
        message += " (check your credentials / RBAC: `kmeshctl precheck` lists what is missing)"
    causes = tuple((data.get("details") or {}).get("causes") or ())
    return ApiError(status, reason, f"{method} {path} failed: {message}", causes)


_CONFLICT_MANAGER = re.compile(r'conflict with "((?:[^"\\]|\\.)*)"')


def conflict_problem(obj: dict, err: ApiError) -> str:
    """One line naming the object, each owning field manager and its fields.

    Built from the Status causes (reason FieldManagerConflict, message `conflict with
    "<manager>" ...`, field) because the server's own message spans lines when there are
    several conflicts."""
    owned: dict[str, list[str]] = {}
    for cause in err.causes:
        if cause.get("reason") == "FieldManagerConflict":
            found = _CONFLICT_MANAGER.search(cause.get("message", ""))
            manager = found.group(1) if found else cause.get("message", "another manager")
            owned.setdefault(manager, []).append(cause.get("field", "?"))
    if owned:
        detail = "; ".join(f'field manager "{m}" owns {", ".join(fields)}' for m, fields in owned.items())
    else:
        detail = f"conflict: {err}"
    return f"{object_ref(obj)}: {detail} (kmeshctl never takes fields from another manager)"


def _display_name(meta: dict) -> str:
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def object_ref(obj: dict) -> str:
    """`Kind namespace/name` for messages."""
    return f"{obj['kind']} {_display_name(obj['metadata'])}"
