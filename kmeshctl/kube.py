"""Talking to the Kubernetes API: load the kubeconfig (or in-cluster config) and a thin
JSON client on top of the official `kubernetes` package: discovery of served kinds,
server-side apply, get, list, patch, delete and create.

Objects are plain dicts (the API's JSON), so rendered manifests go out unchanged."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import re
import shlex
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional, Sequence
from urllib.parse import quote

import yaml

from kmeshctl import kubeauth
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.params import DEFAULT_REQUEST_TIMEOUT_S, WAITING_NOTE_AFTER_S, bounded, shown, yaml_where

if TYPE_CHECKING:
    import threading

    from kubernetes import client as k8s

FIELD_MANAGER = "kmeshctl"
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"
REQUEST_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds of a watch's connection (a request: --request-timeout)
WATCH_TIMEOUT_S = 300  # a watch's timeoutSeconds: the server ends the stream then
WATCH_READ_SLACK_S = 30.0  # a watch's read timeout beyond that: only a dead connection hits it
# A request started just before a deadline (KubeClient.within) still gets this long: urllib3 refuses 0
DEADLINE_FLOOR_S = 0.05
SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"


@dataclass(frozen=True)
class KubeTarget:
    """Which cluster to talk to and how: a kubeconfig file and context (None: the
    defaults), the limit of one request, and -q. The CLI's root callback builds one per
    run from the global flags (kmeshctl.cli.common); every function here that loads a
    configuration or connects is given it."""

    kubeconfig: Optional[str] = None
    context: Optional[str] = None
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT_S  # --request-timeout, seconds per request; 0: no limit
    quiet: bool = False  # -q: no `waiting for the Kubernetes API` note
    # what a look-up of its own asks, with its own limit (`whether foo is a namespace`): the
    # waiting note says that, not --request-timeout (the user's limit of the command's requests)
    asking: str = ""

    @property
    def named(self) -> bool:
        """The user chose a kubeconfig or context (flag or KUBECONFIG), rather than the defaults."""
        return self.kubeconfig is not None or self.context is not None


class ApiError(KmeshctlError):
    """The API server answered with a non-2xx status (its Status message and causes are kept)."""

    def __init__(self, status: int, reason: str, message: str, causes: tuple[dict, ...] = (), *,
                 fix: str = "", see: str = "") -> None:
        super().__init__(message, fix=fix, see=see)
        self.status = status
        self.reason = reason
        self.causes = causes


class ApplyConflict(ApiError):
    """409 from server-side apply: another field manager owns fields kmeshctl sets."""

    FIX = "remove that manager's values for these fields (or delete the object), then re-run"

    def __init__(self, obj: dict, err: ApiError, force_command: str = "") -> None:
        problem = conflict_problem(obj, err, bool(force_command))
        fix = self.FIX + (f"; to take them back for kmeshctl, re-run with --force-conflicts: `{force_command}`"
                          if force_command else "")
        super().__init__(409, err.reason, problem, err.causes, fix=fix)


class ApiUnreachable(KmeshctlError):
    """No answer from the API server at all."""


NOT_KUBERNETES_FIX = "pass --kubeconfig/--context of a Kubernetes cluster"


class NotKubernetes(KmeshctlError):
    """Something answers at the server address, but not as a Kubernetes API server does
    (no version document at /version, no /api discovery)."""


class CredentialPluginFailed(KmeshctlError):
    """The kubeconfig user's exec credential plugin ran and failed (exit 1): its command
    (``command``) is what to fix."""

    def __init__(self, message: str, command: str, fix: str = "") -> None:
        super().__init__(message, fix=fix)
        self.command = command


class KubeconfigProblem(KmeshctlError):
    """The kubeconfig in use (not one the user named: that is a UsageError) cannot give a
    working client: the file or an entry of it is what to fix."""


class NoClusterConfigured(KmeshctlError):
    """No kubeconfig at all (none named, ~/.kube/config missing) and not inside a pod."""


class KindNotServed(KmeshctlError):
    """The cluster does not serve this apiVersion/kind (for example: no Istio CRDs)."""


KIND_NOT_SERVED_FIX = ("check the cluster's version and installed APIs (`kubectl version`, `kubectl api-resources`), "
                       "or pass --kubeconfig/--context of another cluster")


def _all_text(values: Any) -> bool:
    return isinstance(values, list) and all(isinstance(v, str) for v in values)


def _preferred_first(group: dict) -> list[str]:
    """The group versions of one /apis entry, its preferred version first."""
    versions = [v["groupVersion"] for v in group.get("versions") or []]
    preferred = (group.get("preferredVersion") or {}).get("groupVersion")
    return sorted(versions, key=lambda v: v != preferred)


def _is_resource(res: Any) -> bool:
    """One entry of a group/version's resource list, as discovery reads it."""
    return isinstance(res, dict) and isinstance(res.get("name"), str) and isinstance(res.get("kind"), str) \
        and isinstance(res.get("namespaced"), bool)


@dataclass(frozen=True)
class ResourceKind:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    verbs: tuple[str, ...] = field(default=(), compare=False)  # as discovery lists them

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


def load_configuration(target: KubeTarget) -> k8s.Configuration:
    """Kubeconfig from --kubeconfig/KUBECONFIG (+ --context), else in-cluster, else ~/.kube/config.

    A named kubeconfig that is missing, does not parse, or lacks the --context asked for is
    a UsageError (exit 2) naming the path, or the contexts it has."""
    # The Kubernetes client (0.2 s and ~25 MB to import) is loaded when a cluster is used,
    # not by every command, `--help` included.
    from kubernetes import client as k8s
    from kubernetes import config as k8s_config
    from kubernetes.config.config_exception import ConfigException

    cfg = k8s.Configuration()
    if not target.named and running_in_cluster():
        k8s_config.load_incluster_config(client_configuration=cfg)
        ORIGIN[id(cfg)] = "the in-cluster service account"
        CREDENTIALS[id(cfg)] = "the in-cluster service account"
        IMPERSONATION[id(cfg)] = []  # keyed by id(): a new object may reuse a dropped one's
        return cfg
    path = target.kubeconfig or os.path.expanduser(DEFAULT_KUBECONFIG)
    found = check_kubeconfig(path, target.context, explicit=target.kubeconfig is not None)
    # Named always: with a KUBECONFIG list, the client library takes the last file's
    # current-context, kubectl (and the messages here) the first file's that sets one.
    context = target.context or found.current
    # The client gets the files as already read (a --kubeconfig <(...) pipe can be read
    # only once), merged as kubectl merges them, after the entries it will use are checked.
    merged = merged_kubeconfig(found, context)
    with only_context_fixes(found):
        check_context_entries(merged, context, path, target)
        unsent = _server_of(merged, context).startswith("http://") and _has_credentials(merged, context)
        if unsent:
            merged = without_credentials(merged, context)
        merged = with_oidc_token(with_exec_credentials(merged, context, path, target), context, path, target)
        merged = with_token_file_read(merged, context, path, target)
    try:
        with _library_errors() as logged:
            k8s_config.load_kube_config_from_dict(merged, context=context, client_configuration=cfg,
                                                  persist_config=False)
    except (ConfigException, OSError, ValueError) as err:
        raise _config_error(f"cannot load kubeconfig {shown(path, whole=True)} ({_one_line(err)})", _named(target),
                            "pass --kubeconfig PATH and --context NAME of a cluster you can reach") from err
    if logged:  # the library logs a failed exec plugin and carries on without credentials
        with only_context_fixes(found):
            raise _plugin_failed(merged, context, path, logged[0])
    if getattr(cfg, "_proxy_from_env", False) and _loopback(cfg.host):
        cfg.proxy = None  # as Go's ProxyFromEnvironment: HTTPS_PROXY never applies to localhost, 127.x, ::1
    if str(getattr(cfg, "proxy", None) or "").lower().startswith("socks5://"):
        # as kubectl: the proxy resolves the server's host name (urllib3's socks5h://), which may
        # be known only behind it; messages show the proxy-url as written
        SHOWN_PROXY[id(cfg)] = cfg.proxy
        cfg.proxy = "socks5h://" + cfg.proxy[len("socks5://"):]
    ORIGIN[id(cfg)] = _origin_text(path, found, target.context)
    user = _user_name(merged, context)
    CREDENTIALS[id(cfg)] = f"{UNSENT}{user}" if unsent else f"user {user or '(none)'} in kubeconfig {shown(path, whole=True)}"
    IMPERSONATION[id(cfg)] = kubeauth.impersonation_headers(_entry(merged, "users", user) or {}) if user else []
    return cfg


# CREDENTIALS of a user whose credentials were not sent (the server is http://), then its name
UNSENT = "no credentials (the server is http://) of user "
# A user's fields that prove who it is; kubectl sends none of them to an http:// server
# (client-go's clientcmd reads them only for a TLS transport). Impersonation still goes.
CREDENTIAL_FIELDS = ("token", "tokenFile", "username", "password", "client-certificate", "client-key",
                     "client-certificate-data", "client-key-data", "exec", "auth-provider")


def _server_of(config: dict, context: str) -> str:
    """The server of ``context``'s cluster, its scheme set (check_context_entries)."""
    cluster = _entry(config, "clusters", (_entry(config, "contexts", context) or {}).get("cluster")) or {}
    return str(cluster.get("server") or "")


def _user_of(config: dict, context: str) -> dict:
    """The fields of ``context``'s user ({} when it has none)."""
    user = _entry(config, "users", _user_name(config, context)) or {}
    return user if isinstance(user, dict) else {}


def _has_credentials(config: dict, context: str) -> bool:
    """``context``'s user has a way to prove who it is (one of CREDENTIAL_FIELDS)."""
    return any(_user_of(config, context).get(field) for field in CREDENTIAL_FIELDS)


def without_credentials(config: dict, context: str) -> dict:
    """``config`` with ``context``'s user stripped of CREDENTIAL_FIELDS: what kubectl sends
    to an http:// server (no exec plugin run, no token read); checked as kubectl checks
    them all the same (check_context_entries, before)."""
    return _with_user(config, _user_name(config, context),
                      lambda fields: {k: v for k, v in fields.items() if k not in CREDENTIAL_FIELDS}, every=True)


def _loopback(url: str) -> bool:
    """``url``'s host is this machine's loopback (localhost, 127.0.0.0/8, ::1)."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
        return host == "localhost" or host.endswith(".localhost") or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def with_token_file_read(config: dict, context: str, path: str, target: KubeTarget) -> dict:
    """``config`` with the tokenFile of ``context``'s user read here, its surrounding
    whitespace removed as client-go does (`kubectl create token x > f` ends it with a
    newline, which no Authorization header may carry). A user with an inline token (which
    the client uses instead) or none: unchanged."""
    user_name = _user_name(config, context)
    user = _entry(config, "users", user_name) if user_name else None
    if not user or not user.get("tokenFile") or user.get("token"):
        return config
    owner = f"user {user_name} in kubeconfig {shown(path, whole=True)}, context {shown(context)}"
    try:
        with open(user["tokenFile"], "rb") as handle:
            token = handle.read(1 << 20).decode("utf-8", "replace").strip()
    except OSError as err:
        raise _config_error(f"{owner}: tokenFile {user['tokenFile']} {_path_problem(err)}", _named(target),
                            "fix the path in the kubeconfig, or pass --context NAME of another context") from err
    why = kubeauth.header_problem(token)
    if why:
        raise _config_error(f"{owner}: the token in tokenFile {user['tokenFile']} cannot be sent in the "
                            f"Authorization header ({why})", _named(target),
                            "write the token alone on one line in that file, or pass --context NAME of another context")
    return _with_user(config, user_name,
                      lambda fields: {**{k: v for k, v in fields.items() if k != "tokenFile"}, "token": token})


DEFAULT_KUBECONFIG = "~/.kube/config"


def kubeconfig_from_env(value: Optional[str]) -> Optional[str]:
    """$KUBECONFIG's ``value`` as kmeshctl uses it: None when it names no file (unset,
    empty, or separators alone such as `:`), as its empty entries are skipped: then the
    defaults apply (in a pod, ~/.kube/config), never an error about the value."""
    return value if value and any(value.split(os.pathsep)) else None


# Where each loaded configuration came from, for "cannot reach" messages: keyed by id().
ORIGIN: dict[int, str] = {}
# The proxy-url of each loaded configuration as the kubeconfig writes it, when the client is given another
SHOWN_PROXY: dict[int, str] = {}
# Whose credentials each loaded configuration sends (`user me in kubeconfig kc.yaml`), for 401s.
CREDENTIALS: dict[int, str] = {}
# The impersonation headers (the user's as, as-groups ...) each loaded configuration's requests carry
IMPERSONATION: dict[int, list[tuple[str, str]]] = {}


def _origin_text(path: str, found: "KubeconfigFiles", context: Optional[str]) -> str:
    """`kubeconfig /root/.kube/config, context prod` (the current context when none was given):
    ``path`` as the user gave it, as every kubeconfig message names it (a KUBECONFIG value is
    then marked whole as the variable's, empty or missing entries included)."""
    named = shown(context or found.current) if context or found.current else "none"
    return f"kubeconfig {shown(path, whole=True)}, context {named}"


def _one_line(err: BaseException) -> str:
    """The reason alone: an OSError's text without its file name (the message names it)."""
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return " ".join(str(err).split()) or "no detail"


def _config_error(message: str, explicit: Optional[str], fix: str = "") -> KmeshctlError:
    """Bad input (exit 2) when the user named the kubeconfig or context (``explicit``:
    what they named, None when neither), else a failure."""
    return UsageError(message, fix=fix) if explicit is not None else KubeconfigProblem(message, fix=fix)


# a fix's "pass another context" part (kubeauth.OTHER_CONTEXT and its like)
_OTHER_CONTEXT = re.compile(r",? or pass --context NAME of another (?:context|cluster)")


@contextlib.contextmanager
def only_context_fixes(found: "KubeconfigFiles") -> Iterator[None]:
    """The block's errors as they are, but with no "or pass --context NAME of another
    context" in their fix when the kubeconfig files of ``found`` hold one context only."""
    try:
        yield
    except KmeshctlError as err:
        if len(found.contexts) > 1 or not _OTHER_CONTEXT.search(err.fix):
            raise
        raise err.with_fix(_OTHER_CONTEXT.sub("", err.fix)) from err.__cause__


def _named(target: KubeTarget) -> Optional[str]:
    """What the user named of ``target`` (its kubeconfig, else its context), for _config_error."""
    return target.kubeconfig if target.kubeconfig is not None else target.context or None


@dataclass(frozen=True)
class KubeconfigFiles:
    """The kubeconfig files in use (each parsed once): the paths that exist, their context
    names (merged as kubectl does), the current context ("" when none is set) and each
    file's parsed content, in the order of ``files``."""

    files: list[str]
    contexts: list[str]
    current: str
    configs: list[dict] = field(default_factory=list)


def kubeconfig_entries(path: str) -> list[str]:
    """The files a kubeconfig path names, ~ expanded: a KUBECONFIG-style list split at ':'
    (empty entries skipped), but a file of that exact name (`kc:1.yaml`) is that file."""
    whole = os.path.expanduser(path)
    if os.pathsep in path and os.path.exists(whole):
        return [whole]
    return [os.path.expanduser(p) for p in path.split(os.pathsep) if p]


def check_kubeconfig(path: str, context: Optional[str], explicit: bool,
                     current_needed: bool = True) -> KubeconfigFiles:
    """The files of ``path`` that exist (a KUBECONFIG-style list: as kubectl, missing
    entries are skipped) with their contexts; a one-line error when none exists, or
    ``context`` is not one of their contexts (they are listed), or, given no ``context``
    and ``current_needed``, the current-context is missing or none of them."""
    files = kubeconfig_entries(path)
    present = [p for p in files if os.path.exists(p)]
    if not present and not explicit and context is not None:
        raise UsageError(f"--context {shown(context)}: no kubeconfig to look it up in "
                         f"({shown(files[0] if files else path)} does not exist)",
                         fix="pass --kubeconfig PATH of the file that has it")
    if not present and not explicit:
        raise NoClusterConfigured(f"no cluster configured: {files[0] if files else path} does not exist",
                                  fix=NO_CLUSTER_FIX)
    if not files:
        raise _config_error(f"the kubeconfig path {shown(path, whole=True)} names no file", path,
                            "pass --kubeconfig PATH (or set KUBECONFIG to a file)")
    if not present:
        raise _config_error(_missing_kubeconfig(path, files), path, KUBECONFIG_FIX)
    configs = _parsed(present, path if explicit else None, context)
    names, current = _contexts_in(configs)
    if not names:
        raise _config_error(f"kubeconfig {shown(path, whole=True)} has no contexts (empty, or not a kubeconfig)", path if explicit
                            else context, "pass --kubeconfig PATH of one that has (`kubectl config get-contexts` "
                            "lists a file's contexts)")
    if context is not None and context not in names:
        raise UsageError(f"--context {shown(context)}: no such context in {shown(path, whole=True)} (contexts: "
                         f"{', '.join(map(shown, names)) or 'none'})", fix=CONTEXT_FIX)
    if context is None and not current and current_needed:
        raise _config_error(f"kubeconfig {shown(path, whole=True)} has no current-context "
                            f"(contexts: {', '.join(map(shown, names))})",
                            path if explicit else None, CONTEXT_FIX)
    if context is None and current not in names and current_needed:
        raise _config_error(f"kubeconfig {shown(path, whole=True)}: current-context {shown(current)} is not one of its contexts "
                            f"(contexts: {', '.join(map(shown, names))})", path if explicit else None,
                            f"{CONTEXT_FIX}, or fix current-context")
    return KubeconfigFiles(present, names, current, configs)


def _contexts_in(configs: list[dict]) -> tuple[list[str], str]:
    """The context names of the parsed kubeconfig files (merged as kubectl does) and the current one."""
    names: list[str] = []
    current = ""
    for config in configs:
        names += [c.get("name", "") for c in config.get("contexts") or [] if isinstance(c, dict)]
        current = current or str(config.get("current-context") or "")
    return list(dict.fromkeys(names)), current  # a name in two files is one context (the first file's)


def _parsed(files: list[str], explicit: Optional[str], context: Optional[str] = None) -> list[dict]:
    """Each kubeconfig file read once and parsed (a one-line error naming the file when it
    does not load: bad input when ``explicit``, the kubeconfig typed, or ``context``)."""
    configs: list[dict] = []
    named = explicit if explicit is not None else context or None
    for file in files:
        try:
            config = _read_kubeconfig(file)
        except UnicodeDecodeError as err:
            raise _config_error(f"cannot load kubeconfig {shown(file, whole=True)} (not UTF-8 text)", named,
                                "pass --kubeconfig PATH of a valid kubeconfig") from err
        except yaml.YAMLError as err:
            raise _config_error(f"cannot load kubeconfig {shown(file, whole=True)}: not valid YAML at {yaml_where(file, err)}",
                                named,
                                "pass --kubeconfig PATH of a valid kubeconfig") from err
        except OSError as err:
            listed = explicit is not None and os.pathsep in explicit  # a list: the whole value, then its entry
            where = f"{shown(explicit)}: {file}" if listed else f"{file}:"
            raise _config_error(f"{_kubeconfig_flag(explicit)} {where} {_path_problem(err)}", named,
                                "pass --kubeconfig PATH of a kubeconfig file") from err
        if not isinstance(config, dict):
            raise _config_error(f"cannot load kubeconfig {shown(file, whole=True)} (not a kubeconfig mapping)", named,
                                "pass --kubeconfig PATH of a valid kubeconfig")
        _check_sections(config, file, named)
        configs.append(config)
    return configs


def _check_sections(config: dict, file: str, named: Optional[str]) -> None:
    """Each of a kubeconfig's clusters, contexts and users a list (or left out) without two
    entries of one name, as kubectl requires when it loads the file (`contexts: 5` is
    refused there too)."""
    for section in ("clusters", "contexts", "users"):
        value = config.get(section)
        if value is not None and not isinstance(value, list):
            example = f"- name: {shown(next(iter(value)))} ..." if isinstance(value, dict) and value else "- name: ..."
            raise _config_error(f"cannot load kubeconfig {shown(file, whole=True)}: its {section} is {kubeauth.shape(value)}, "
                                f"not a list of named entries ({example})", named,
                                f"write {section} as a list (`- name: ...`) "
                                "or pass --kubeconfig PATH of a valid kubeconfig")
        names = [e.get("name") for e in value or [] if isinstance(e, dict) and isinstance(e.get("name"), str)]
        twice = next((n for i, n in enumerate(names) if n in names[:i]), None)
        if twice is not None:  # kubectl refuses the file too (duplicate name in list)
            raise _config_error(f"cannot load kubeconfig {shown(file, whole=True)}: it has two {section} named {shown(twice)}",
                                named,
                                f"remove or rename one of them (in {file})")


KUBECONFIG_FIX = "pass --kubeconfig PATH of an existing kubeconfig file"
# The fix of a context that is none of the kubeconfig's (the CLI makes it a did-you-mean line)
CONTEXT_FIX = "pass --context with one of them"
# No kubeconfig at all (kubectl's flags, and its variable)
NO_CLUSTER_FIX = "pass --kubeconfig PATH (or set KUBECONFIG) and --context NAME"


def _kubeconfig_flag(explicit: Optional[str]) -> str:
    """How a kubeconfig path problem names the path's source: `--kubeconfig` when the user
    gave it (a KUBECONFIG value is renamed $KUBECONFIG when reported), else `kubeconfig`."""
    return "--kubeconfig" if explicit is not None else "kubeconfig"


def comma_list(path: str) -> str:
    """`a.yaml,b.yaml` as the list it was meant to be (`a.yaml:b.yaml`) when each entry
    exists; "" else."""
    entries = path.split(",")
    if len(entries) < 2 or not all(e and os.path.isfile(os.path.expanduser(e)) for e in entries):
        return ""
    return os.pathsep.join(entries)


def _missing_kubeconfig(path: str, files: list[str]) -> str:
    """`--kubeconfig /x: does not exist` (a list: `none of a, b exists`), in the words
    of every path flag (kmeshctl.cli.outpaths.input_path_problem); its fix: KUBECONFIG_FIX."""
    if len(files) == 1 and os.pathsep in path:  # a list of one file and empty entries: the value as set
        return f"--kubeconfig {shown(path, whole=True)}: {shown(files[0])} does not exist"
    if len(files) == 1 and comma_list(files[0]):
        return f"--kubeconfig {shown(files[0])}: does not exist (kubeconfig lists are joined with " \
               f"'{os.pathsep}', not ',': {shown(comma_list(files[0]))})"
    if len(files) == 1:
        return f"--kubeconfig {shown(files[0])}: does not exist"
    return f"--kubeconfig {shown(path, whole=True)}: none of {', '.join(map(shown, files)) or 'its entries'} exists"


def _path_problem(err: OSError) -> str:
    """A read that failed, in the path words of every flag: never an errno text."""
    import errno

    if err.errno == errno.EISDIR:
        return "is not a file"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "is not readable (permission denied)"
    if err.errno == errno.ENOENT:
        return "does not exist"
    return f"cannot be read ({_one_line(err)})"


# A kubeconfig that is not a regular file (`--kubeconfig <(vault read ...)`: a pipe) can be
# read only once: its parsed content, keyed by the pipe itself, for the process's next look.
_PIPED: dict[tuple[str, int, int], Any] = {}


def _read_kubeconfig(file: str) -> Any:
    """One kubeconfig file parsed (the only place kmeshctl reads one itself)."""
    import stat

    info = os.stat(file)
    key = (file, info.st_dev, info.st_ino)
    if not stat.S_ISREG(info.st_mode) and key in _PIPED:
        return copy.deepcopy(_PIPED[key])
    with open(file, encoding="utf-8") as handle:
        config = yaml.safe_load(handle) or {}
    if not stat.S_ISREG(info.st_mode):
        _PIPED[key] = copy.deepcopy(config)
    return config


# --- the entries of the context in use ------------------------------------------------
# Kubeconfig fields holding a path, which kubectl resolves against the directory of the
# file that holds them (the client library, given a merged document, would not).
_CLUSTER_FILES = ("certificate-authority",)
_USER_FILES = ("client-certificate", "client-key", "tokenFile")


def merged_kubeconfig(found: KubeconfigFiles, context: str) -> dict:
    """One kubeconfig document from the files of ``found``, merged as kubectl merges them:
    of each cluster, context and user name the first file's entry wins; relative paths are
    made absolute against their own file's directory; ``context`` is the current one."""
    merged: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [], "contexts": [], "users": [],
                              "current-context": context}
    for file, config in zip(found.files, found.configs):
        base = os.path.dirname(os.path.abspath(file))
        for section in ("clusters", "contexts", "users"):
            seen = {e.get("name") for e in merged[section] if isinstance(e, dict)}
            for entry in config.get(section) or []:
                if isinstance(entry, dict) and entry.get("name") in seen:
                    continue
                merged[section].append(_with_absolute_paths(copy.deepcopy(entry), section, base))
    return merged


def _with_absolute_paths(entry: Any, section: str, base: str) -> Any:
    body = entry.get(section[:-1]) if isinstance(entry, dict) else None
    if not isinstance(body, dict):
        return entry
    for key in _CLUSTER_FILES if section == "clusters" else _USER_FILES if section == "users" else ():
        if isinstance(body.get(key), str) and body[key] and not os.path.isabs(body[key]):
            body[key] = os.path.normpath(os.path.join(base, os.path.expanduser(body[key])))
    plugin = body.get("exec") if section == "users" else None
    command = plugin.get("command") if isinstance(plugin, dict) else None
    if isinstance(command, str) and "/" in command and not os.path.isabs(command):
        plugin["command"] = os.path.normpath(os.path.join(base, command))  # as kubectl: relative with a slash
    return entry


def _entry(config: dict, section: str, name: Any) -> Optional[dict]:
    """The body of the entry ``name`` of ``section`` (the `cluster:` of a cluster)."""
    for entry in config.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name:
            body = entry.get(section[:-1])
            return body if isinstance(body, dict) else {}
    return None


def _user_name(config: dict, context: str) -> Any:
    """The name of ``context``'s user (None when the context names none)."""
    return (_entry(config, "contexts", context) or {}).get("user")


def _with_user(config: dict, user_name: Any, change: Callable[[dict], dict], every: bool = False) -> dict:
    """A copy of ``config`` whose entry of user ``user_name`` holds ``change(its fields)``:
    the first such entry (the one the client reads), or with ``every`` each of them."""
    config = copy.deepcopy(config)
    for entry in config.get("users") or []:
        if isinstance(entry, dict) and entry.get("name") == user_name and isinstance(entry.get("user"), dict):
            entry["user"] = change(entry["user"])
            if not every:
                break
    return config


def check_context_entries(config: dict, context: str, path: str, target: KubeTarget) -> None:
    """A one-line error (exit 2 for a kubeconfig or context the user named, else 1) for what
    the client library would otherwise turn into noise or a wrong address: the context's
    cluster missing or without a server, a file it names (tokenFile, certificates) missing,
    a client certificate that does not load, two ways to log in, an exec credential plugin
    that kubectl would not run or that is not installed. A server without a scheme gets
    kubectl's in ``config``: http."""
    where = f"in kubeconfig {shown(path, whole=True)}"
    named = _named(target)
    body = _entry(config, "contexts", context) or {}
    _check_types(body, kubeauth.CONTEXT_TYPES, f"context {shown(context)} {where}", named)
    cluster_name = body.get("cluster")
    cluster = _entry(config, "clusters", cluster_name)
    if cluster is None:
        names = ", ".join(str(e.get("name")) for e in config.get("clusters") or [] if isinstance(e, dict))
        named_cluster = shown(cluster_name) if cluster_name else "(none)"
        raise _config_error(f"context {shown(context)} {where} names cluster {named_cluster}, which is not "
                            f"there (clusters: {names or 'none'})", named,
                            "add it, or pass --context NAME of another context")
    server = cluster.get("server")
    if not server:
        raise _config_error(f"the cluster {cluster_name} {where} has no server (context {shown(context)})", named,
                            "add its server: https://HOST:PORT, or pass --context NAME of another cluster")
    problem = server_url_problem(server)
    if problem:
        written = masked_url(server) if isinstance(server, str) else server
        raise _config_error(f"the cluster {cluster_name} {where} has server {shown(written)}: {problem} (context "
                            f"{shown(context)})", named, "use https://HOST:PORT")
    _check_types(cluster, kubeauth.CLUSTER_TYPES, f"the cluster {cluster_name} {where}", named)
    if cluster.get("insecure-skip-tls-verify") and (cluster.get("certificate-authority") or
                                                    cluster.get("certificate-authority-data")):
        raise _config_error(f"the cluster {cluster_name} {where} has insecure-skip-tls-verify: true and a "
                            "certificate-authority (kubectl: specifying a root certificates file with the insecure "
                            "flag is not allowed)", named, "remove one of them from the cluster (keep the CA to "
                            "verify the server), or pass --context NAME of another context")
    _check_files(cluster, _CLUSTER_FILES, f"the cluster {cluster_name} {where}", named)
    _check_base64(cluster, ("certificate-authority-data",), f"the cluster {cluster_name} {where}", named)
    _check_ca(cluster, f"the cluster {cluster_name} {where}", named)
    problem, fix = kubeauth.proxy_problem(cluster, f"the cluster {cluster_name} {where}")
    if problem:
        raise _config_error(problem, named, fix)
    user_name = body.get("user")
    user = _entry(config, "users", user_name) if user_name else None
    if user_name and user is None:
        names = ", ".join(str(e.get("name")) for e in config.get("users") or [] if isinstance(e, dict))
        raise _config_error(f"context {shown(context)} {where} names user {user_name}, which is not there (users: "
                            f"{names or 'none'})", named, "add it, or pass --context NAME of another context")
    if user:
        owner = f"user {user_name} {where}, context {shown(context)}"
        _check_types(user, kubeauth.USER_TYPES, owner, named)
        if isinstance(user.get("exec"), dict):
            _check_types(user["exec"], kubeauth.EXEC_TYPES, owner + ", exec", named)
        for problem, fix in (_token_problem(user, owner), kubeauth.impersonation_problem(user, owner)):
            if problem:
                raise _config_error(problem, named, fix)
        _check_user(user, owner, named, plain_http=server.startswith("http://") or "://" not in server)
        _check_base64(user, ("client-certificate-data", "client-key-data"), f"user {user_name} {where}", named)
        for problem, fix in (kubeauth.login_conflict(user, owner),
                             kubeauth.client_certificate_problem(str(user_name), user, owner, target.kubeconfig)):
            if problem:
                raise _config_error(problem, named, fix)
        _check_auth_provider(str(user_name), user, owner, named, target.kubeconfig)
    if "://" not in server:
        # kubectl's scheme for it, whatever TLS settings there are: clientcmd asks whether the transport
        # is TLS from the server alone, before it takes them (kubectl 1.34: `127.0.0.1:PORT` with a CA
        # is GET http://127.0.0.1:PORT/version, no Authorization): so no credentials go either
        cluster["server"] = f"http://{server}"


def _check_types(body: dict, types: dict[str, str], owner: str, named: Optional[str]) -> None:
    """Each field of ``body`` of the type kubectl decodes it into (kmeshctl.kubeauth.type_problem)."""
    problem, fix = kubeauth.type_problem(body, types, owner)
    if problem:
        raise _config_error(problem, named, fix)


def _token_problem(user: dict, owner: str) -> tuple[str, str]:
    """An inline token that cannot be sent in the Authorization header (a line break: `token: |`)."""
    why = kubeauth.header_problem(user.get("token") or "")
    if not why:
        return "", ""
    return f"{owner}: its token cannot be sent in the Authorization header ({why})", \
        "write the token on one line in the kubeconfig (`token: TOKEN`), or pass --context NAME of another context"


def _check_auth_provider(name: str, user: dict, owner: str, named: Optional[str], kubeconfig: Optional[str]) -> None:
    """The user's auth-provider as kubectl takes it (kmeshctl.kubeauth): bad input, or an
    oidc id-token that expired with nothing to renew it (a failure, exit 1)."""
    problem, fix = kubeauth.auth_provider_problem(name, user, owner, kubeconfig)
    if problem:
        raise _config_error(problem, named, fix)
    problem, fix = kubeauth.oidc_refresh_problem(name, user, owner, kubeconfig)
    if problem:
        raise KubeconfigProblem(problem, fix=fix)


def server_url_problem(server: Any) -> str:
    """Why ``server`` is not an http(s)://HOST[:PORT] address ("" when it is one), each
    mistake by its own name: a misspelt or unsupported scheme, an unclosed `[`, two `:`,
    a port that is not a number or out of range. A server without a scheme is HOST[:PORT]
    (kubectl's scheme for it: http)."""
    if not isinstance(server, str):
        kind = "a number" if isinstance(server, (int, float)) else "a list" if isinstance(server, list) else \
            "a mapping" if isinstance(server, dict) else "not text"
        return f"not a URL ({kind})"
    if any(c.isspace() for c in server):
        return "not a URL (it has a space)"
    scheme, sep, rest = server.partition("://")
    if not sep:
        misspelt = _MISSPELT_SCHEME.match(server)
        if misspelt:
            return f"not a URL: it starts with {shown(misspelt.group(0))}, which is not a scheme (write https://)"
        scheme, rest = "", server
    elif not _SCHEME.match(scheme):
        return f"not a URL: {shown(scheme + '://')} is not a scheme (write https://)"
    elif scheme.lower() not in ("http", "https"):
        return f"scheme {scheme} is not supported (an API server speaks https://)"
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0].rpartition("@")[2]
    if not authority:
        return f"not a URL: no host after {scheme}://" if scheme else "not a URL: no host"
    if authority.startswith("["):
        return _bracketed_problem(authority)
    host, colon, port = authority.rpartition(":") if ":" in authority else (authority, "", "")
    if colon and ":" in host:
        return (f"{shown(authority)} has more than one ':' (an IPv6 address is written in brackets: "
                "https://[ADDRESS]:PORT)")
    if not host:
        return "not a URL: no host before :PORT"
    if not _HOST.match(host):
        return f"{shown(host)} is not a host name or IP address"
    return _port_problem(port) if colon else ""


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*\Z")
# `htps//host`, `https:/host`, `https:host/`: a scheme misspelt, which must not be taken as a host
_MISSPELT_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*(?::/+|//+)")
_HOST = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?\Z")


def _bracketed_problem(authority: str) -> str:
    """`[ADDRESS]` or `[ADDRESS]:PORT`: why not ("" when it is)."""
    import ipaddress

    address, closed, after = authority[1:].partition("]")
    if not closed:
        return (f"the [ of {shown(authority)} is not closed (an IPv6 address is written in brackets: "
                "https://[ADDRESS]:PORT)")
    try:
        ipaddress.IPv6Address(address)
    except ValueError:
        return f"[{address}] is not an IPv6 address"
    if after and not after.startswith(":"):
        return f"{shown(after)} after [{address}] is not :PORT"
    return _port_problem(after[1:]) if after else ""


def _port_problem(port: str) -> str:
    if not port:
        return "no port after ':'"
    if not (port.isascii() and port.isdigit()):
        return f"port {shown(port)} is not a number"
    if not 1 <= int(port) <= 65535:
        return f"port {port} is out of range (1-65535)"
    return ""


def base64_problem(data: Any) -> str:
    """Why ``data`` (a kubeconfig's *-data value) is not base64, in one line ("" when it is)."""
    import base64
    import binascii

    try:
        base64.b64decode(str(data), validate=True)
    except (binascii.Error, ValueError) as err:
        return _one_line(err)
    return ""


def _check_base64(body: dict, keys: tuple[str, ...], owner: str, named: Optional[str]) -> None:
    for key in keys:
        data = body.get(key)
        problem = base64_problem(data) if data else ""
        if problem:
            raise _config_error(f"{owner}: {key} is not valid base64 ({problem})", named,
                                "paste the PEM file's base64 (`base64 -w0 FILE`), or pass --context NAME of another "
                                "context")


def _check_ca(cluster: dict, owner: str, named: Optional[str]) -> None:
    """The cluster's CA (inline or a file) is one or more PEM certificates: the TLS layer
    would otherwise fail on every request, reported as no answer from the server."""
    import base64
    import ssl

    if cluster.get("insecure-skip-tls-verify") is True:
        return  # no CA is used then
    key, data = "certificate-authority-data", cluster.get("certificate-authority-data")
    if data:
        text = base64.b64decode(str(data)).decode("utf-8", "replace")
    elif cluster.get("certificate-authority"):
        key = f"certificate-authority {cluster['certificate-authority']}"
        try:
            with open(str(cluster["certificate-authority"]), encoding="utf-8", errors="replace") as handle:
                text = handle.read(1 << 20)
        except OSError as err:
            raise _config_error(f"{owner}: {key} {_path_problem(err)}", named,
                                "fix the path in the kubeconfig, or pass --context NAME of another context") from err
    else:
        return
    try:
        if "-----BEGIN CERTIFICATE-----" in text:
            ssl.create_default_context(cadata=text)
            return
    except (ssl.SSLError, ValueError):
        pass
    reason = "is not a PEM certificate (-----BEGIN CERTIFICATE----- ...) that loads"
    fix = ("paste the CA certificate's base64 (`base64 -w0 ca.crt`), or pass --context NAME of another context"
           if data else "point it at the cluster's CA certificate (PEM), or pass --context NAME of another context")
    raise _config_error(f"{owner}: {key} {reason}", named, fix)


def _check_files(body: dict, keys: tuple[str, ...], owner: str, named: Optional[str]) -> None:
    for key in keys:
        file = body.get(key)
        if not file or body.get(f"{key}-data") or (key == "tokenFile" and body.get("token")):
            continue  # the inline data (or token) is what the client uses
        if not os.path.isfile(str(file)):
            problem = "does not exist" if not os.path.exists(str(file)) else "is not a file"
            raise _config_error(f"{owner}: {key} {file} {problem}", named,
                                "fix the path in the kubeconfig, or pass --context NAME of another context")


def _check_user(user: dict, owner: str, named: Optional[str], plain_http: bool = False) -> None:
    """The user's files and exec plugin as kubectl checks them; an exec command that is not
    installed only when it would run (never for an http:// server, which gets no credentials)."""
    _check_files(user, _USER_FILES, owner, named)
    plugin = user.get("exec")
    if not isinstance(plugin, dict) or user.get("auth-provider") is not None:
        return  # with an auth-provider, that is the fault (kmeshctl.kubeauth.auth_provider_problem)
    for problem, fix in (kubeauth.exec_problem(plugin, owner),  # kubectl checks it even when a token is used instead
                         kubeauth.interactive_mode_problem(plugin, owner)):
        if problem:
            raise _config_error(problem, named, fix)
    if user.get("token") or user.get("tokenFile") or plain_http:
        return  # the library uses those before an exec plugin; kubectl runs none for http://
    problem, fix = kubeauth.exec_command_problem(plugin, owner)
    if problem:
        raise _config_error(problem, named, fix)


@contextlib.contextmanager
def _library_errors() -> Iterator[list[str]]:
    """The messages the client library logs at ERROR while loading (a failed exec plugin
    is logged, not raised), kept from stderr: with no handler of its own, logging.error()
    would also switch on every library's warnings (urllib3's retries)."""
    messages: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    root = logging.getLogger()
    handler = Keep(logging.ERROR)
    root.addHandler(handler)
    try:
        yield messages
    finally:
        root.removeHandler(handler)


EXEC_CREDENTIAL_VERSION = "client.authentication.k8s.io/v1"
EXEC_INTERACTIVE_TIMEOUT_S = 300.0  # at least this long for one that may prompt a person (stdin a terminal)
EXEC_SHOWN_OUTPUT = 60  # characters of a plugin's wrong output shown in the message


def with_exec_credentials(config: dict, context: str, path: str, target: KubeTarget) -> dict:
    """``config`` with the exec credential plugin of ``context``'s user run once, here, and
    replaced by the credentials it printed (token or client certificate), so each way it can
    fail is told apart (the client library reports a plugin that hangs, prints nothing or
    prints garbage all as a JSON decoding error, or not at all). CredentialPluginFailed
    (exit 1) names the plugin and what it did. A user without an exec plugin: unchanged."""
    body = _entry(config, "contexts", context) or {}
    user_name = body.get("user")
    user = _entry(config, "users", user_name) if user_name else None
    plugin = user.get("exec") if user else None
    if not isinstance(plugin, dict) or user.get("auth-provider") or user.get("token") or user.get("tokenFile"):
        return config  # the library uses those before an exec plugin
    owner = f"exec plugin {plugin.get('command')} of user {user_name} in kubeconfig {shown(path, whole=True)} " \
            f"(context {shown(context)})"
    cluster = _entry(config, "clusters", body.get("cluster")) or {}
    status = _run_exec_plugin(plugin, cluster if plugin.get("provideClusterInfo") else None, owner,
                              target.request_timeout)
    credentials = {k: v for k, v in user.items() if k != "exec"}
    if status.get("token"):
        credentials["token"] = str(status["token"])
    else:
        import base64

        for field_name, key in (("clientCertificateData", "client-certificate-data"),
                                ("clientKeyData", "client-key-data")):
            credentials[key] = base64.b64encode(str(status[field_name]).encode()).decode()
    return _with_user(config, user_name, lambda _fields: credentials)


def with_oidc_token(config: dict, context: str, path: str, target: KubeTarget) -> dict:
    """``config`` with the expired oidc id-token of ``context``'s user renewed here, within
    --request-timeout (kmeshctl.kubeauth.renewed_id_token): the client library would ask
    the issuer with no time limit, without checking its certificate, and let each failure
    through as a traceback. An issuer not reached is ApiUnreachable (exit 1, as an API
    server not reached); one that answers without a token, KubeconfigProblem. Any other
    user: unchanged."""
    user_name = _user_name(config, context)
    user = _entry(config, "users", user_name) if user_name else None
    provider = (user or {}).get("auth-provider")
    settings = provider.get("config") if isinstance(provider, dict) and provider.get("name") == "oidc" else None
    if not isinstance(settings, dict) or not settings.get("refresh-token") or not kubeauth.needs_renewal(settings):
        return config  # checked before (check_context_entries): issuer, client id, a JWT
    issuer = shown(settings["idp-issuer-url"])
    login = (f"log in again and set the id-token it gives (`{kubeauth.set_credentials(str(user_name), target.kubeconfig)}"
             " --auth-provider-arg=id-token=TOKEN`), or pass --context NAME of another context")
    whose = (f"the {'expired ' if settings.get('id-token') else ''}oidc id-token of user {user_name} in kubeconfig "
             f"{path} (context {shown(context)})")
    try:
        renewed = kubeauth.renewed_id_token(settings, target.request_timeout or None)
    except kubeauth.IssuerFailed as err:
        if not err.reached:
            raise ApiUnreachable(f"cannot renew {whose}: the OIDC issuer {issuer} could not be reached ({err.reason})",
                                 fix=f"check that the issuer is up and the user's idp-issuer-url is right, or {login}"
                                 ) from err
        raise KubeconfigProblem(f"cannot renew {whose}: the OIDC issuer {issuer} gave no new one ({err.reason})",
                                fix=login) from err
    return _with_user(config, user_name,
                      lambda fields: {**fields, "auth-provider": {**fields["auth-provider"], "config": renewed}})


def _run_exec_plugin(plugin: dict, cluster: Optional[dict], owner: str, request_timeout: float) -> dict:
    """The `status` of the ExecCredential the plugin prints, or CredentialPluginFailed
    saying which: it could not start, did not answer in time, exited non-zero (its
    stderr), printed nothing, printed something that is not JSON, or JSON that is not
    an ExecCredential with a token or a client certificate."""
    import subprocess
    import sys

    command = str(plugin.get("command"))
    version = str(plugin.get("apiVersion") or EXEC_CREDENTIAL_VERSION)
    terminal = sys.stdin is not None and sys.stdin.isatty()
    if plugin.get("interactiveMode") == "Always" and not terminal:
        raise CredentialPluginFailed(f"getting credentials: {owner} has interactiveMode: Always, but standard input is "
                                     "not a terminal (kubectl does not run it then)", command,
                                     "run the command at a terminal, or set the exec's interactiveMode: IfAvailable, "
                                     "or pass --context NAME of another context")
    interactive = terminal and plugin.get("interactiveMode") != "Never"
    info: dict[str, Any] = {"apiVersion": version, "kind": "ExecCredential", "spec": {"interactive": interactive}}
    if cluster is not None:
        info["spec"]["cluster"] = cluster
    env = dict(os.environ)
    env.update({str(e.get("name")): str(e.get("value")) for e in plugin.get("env") or [] if isinstance(e, dict)})
    env["KUBERNETES_EXEC_INFO"] = json.dumps(info)
    timeout = _exec_timeout(interactive, request_timeout)
    fix = "fix the credential plugin (run it by hand to see what it does), or pass --context NAME of another context"
    try:
        done = _run_bounded([command, *[str(a) for a in plugin.get("args") or []]], env, timeout, interactive)
    except subprocess.TimeoutExpired:
        from kmeshctl.asciinum import duration_words

        raise CredentialPluginFailed(f"getting credentials: {owner} did not answer within "
                                     f"{duration_words(timeout or 0)} (--request-timeout; it was stopped)",
                                     command, fix) from None
    except OSError as err:
        raise CredentialPluginFailed(f"getting credentials: {owner} could not be run ({_one_line(err)})",
                                     command, fix) from err
    if done.returncode != 0:
        how = f"was killed by signal {-done.returncode}" if done.returncode < 0 else \
            f"exited with status {done.returncode}"
        said = " ".join((done.stderr or "").split())
        raise CredentialPluginFailed(f"getting credentials: {owner} {how}" + (f" ({bounded(said, 300)})" if said else ""),
                                     command, fix)
    wanted = f"an ExecCredential JSON object (kind: ExecCredential, apiVersion: {version}, status.token)"
    output = (done.stdout or "").strip()
    if not output:
        raise CredentialPluginFailed(f"getting credentials: {owner} printed nothing on stdout ({wanted} was "
                                     "expected)", command, fix)
    try:
        data = json.loads(output)
    except ValueError:
        head = bounded(" ".join(output.split()), EXEC_SHOWN_OUTPUT)
        raise CredentialPluginFailed(f"getting credentials: {owner} printed something that is not JSON ({shown(head)}; "
                                     f"{wanted} was expected)", command, fix) from None
    status = data.get("status") if isinstance(data, dict) else None
    has_cert = isinstance(status, dict) and status.get("clientCertificateData") and status.get("clientKeyData")
    if not isinstance(data, dict) or data.get("kind") != "ExecCredential" or not isinstance(status, dict) or \
            not (status.get("token") or has_cert):
        raise CredentialPluginFailed(f"getting credentials: {owner} printed JSON that is not {wanted} with a token "
                                     "or a client certificate", command, fix)
    if data.get("apiVersion") != version:
        raise CredentialPluginFailed(f"getting credentials: {owner} answered apiVersion {data.get('apiVersion')}, "
                                     f"not the {version} the kubeconfig asks for", command,
                                     "fix the kubeconfig's exec apiVersion or the plugin, or pass --context NAME of "
                                     "another context")
    if not status.get("token") and not kubeauth.pair_loads(str(status["clientCertificateData"]),
                                                           str(status["clientKeyData"])):
        raise CredentialPluginFailed(f"getting credentials: {owner} printed a client certificate and key that do not "
                                     "load (status.clientCertificateData: a PEM certificate, clientKeyData: its PEM "
                                     "private key)", command, fix)
    why = kubeauth.header_problem(str(status.get("token") or ""))
    if why:
        raise CredentialPluginFailed(f"getting credentials: {owner} printed a status.token that cannot be sent in the "
                                     f"Authorization header ({why})", command, fix)
    expires = status.get("expirationTimestamp")
    if expires is not None and not is_rfc3339(expires):
        raise CredentialPluginFailed(f"getting credentials: {owner} printed status.expirationTimestamp "
                                     f"{shown(bounded(str(expires), EXEC_SHOWN_OUTPUT))}, which is not an RFC 3339 "
                                     "time (e.g. 2030-01-02T15:04:05Z)", command, fix)
    return status


def _exec_timeout(interactive: bool, request_timeout: float) -> Optional[float]:
    """How long a credential plugin may run: --request-timeout (None: no limit), at least
    EXEC_INTERACTIVE_TIMEOUT_S when it may prompt a person at the terminal."""
    limit = request_timeout or None
    return max(limit, EXEC_INTERACTIVE_TIMEOUT_S) if interactive and limit else limit


_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})\Z")


def is_rfc3339(value: Any) -> bool:
    """``value`` is an RFC 3339 date-time (`2030-01-02T15:04:05Z`, with a real date and time)."""
    import datetime

    if not isinstance(value, str) or not _RFC3339.match(value):
        return False
    try:
        datetime.datetime.fromisoformat(value.upper().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _run_bounded(argv: list[str], env: dict[str, str], timeout: float, interactive: bool) -> Any:
    """Run a credential plugin, its stdout (and, unless ``interactive``, stderr) captured;
    subprocess.TimeoutExpired after ``timeout`` seconds, once it and every process it
    started (its own process group: a script's `sleep` would hold the pipe open) are killed."""
    import subprocess

    process = subprocess.Popen(argv, env=env, stdin=None if interactive else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=None if interactive else subprocess.PIPE,
                               text=True, errors="replace", start_new_session=not interactive)
    global _STOPS_AT_EXIT
    if not _STOPS_AT_EXIT:
        import atexit

        atexit.register(_stop_plugins)  # registered last, run first: before kmeshctl's own exit call
        _STOPS_AT_EXIT = True
    _RUNNING_PLUGINS[process] = interactive
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop_plugin(process, interactive)
        process.communicate()
        raise
    except BaseException:  # Ctrl-C, SIGTERM (kmeshctl.stopping): the processes it started go too
        _stop_plugin(process, interactive)
        process.wait()
        raise
    finally:
        _RUNNING_PLUGINS.pop(process, None)
    return subprocess.CompletedProcess(argv, process.returncode, out, err)


# The credential plugins running now (each: run at the terminal?): a run that ends while one
# runs (shell completion gives up waiting for its lookup thread) stops them at exit.
_RUNNING_PLUGINS: dict[Any, bool] = {}
_STOPS_AT_EXIT = False  # _stop_plugins is registered to run at exit


def _stop_plugin(process: Any, interactive: bool) -> None:
    """Kill a credential plugin and, unless it runs at the terminal (in kmeshctl's own
    process group), every process it started: its own process group."""
    import signal

    with contextlib.suppress(OSError):
        os.killpg(process.pid, signal.SIGKILL) if not interactive else process.kill()


def _stop_plugins() -> None:
    for process, interactive in list(_RUNNING_PLUGINS.items()):
        _stop_plugin(process, interactive)


def _plugin_failed(config: dict, context: str, path: str, logged: str) -> KmeshctlError:
    """A failure the client library logged while loading (kmeshctl runs exec plugins
    itself, see with_exec_credentials): a failure (exit 1) with its words."""
    reason = bounded(" ".join(logged.split()), 300)
    return KubeconfigProblem(f"loading kubeconfig {shown(path, whole=True)} (context {shown(context)}) failed: {reason}",
                             fix="fix the kubeconfig, or pass --context NAME of another context")


def context_names(kubeconfig: Optional[str] = None) -> list[str]:
    """The contexts of ``kubeconfig`` (else KUBECONFIG's, else ~/.kube/config's); empty
    when there is none or it does not load (for shell completion)."""
    return _contexts_and_current(kubeconfig)[0]


def current_context_name(kubeconfig: Optional[str] = None) -> str:
    """The current-context ``kubeconfig`` sets (as context_names finds it), "" for none."""
    return _contexts_and_current(kubeconfig)[1]


def _contexts_and_current(kubeconfig: Optional[str]) -> tuple[list[str], str]:
    path = kubeconfig or kubeconfig_from_env(os.environ.get("KUBECONFIG")) or os.path.expanduser(DEFAULT_KUBECONFIG)
    files = [p for p in kubeconfig_entries(path) if os.path.exists(p)]
    try:
        return _contexts_in(_parsed(files, None))
    except KmeshctlError:
        return [], ""


def context_meant(value: str, names: Sequence[str]) -> Optional[str]:
    """The one context of ``names`` that ``value`` is a slip of, by letter case or spaces
    (`Prod` or ` prod` for prod, `Prod  Cluster` for 'Prod Cluster'), or None: a closer
    look-alike (ctx3 for ctx2) may be another cluster, never guessed."""
    def key(name: str) -> str:
        return " ".join(name.split()).casefold()

    # `'My Ctx '` is 'My Ctx' (spaces alone), never 'my ctx' too
    spaced = [n for n in names if " ".join(n.split()) == " ".join(value.split())]
    same = spaced or [n for n in names if key(n) == key(value)]
    return same[0] if len(same) == 1 and same[0] != value else None


def check_given_target(target: KubeTarget, kubeconfig_typed: bool, context_typed: bool) -> None:
    """The --kubeconfig / --context the user typed checked without connecting, on every
    command (kubectl's rule: a cluster flag that is wrong is an error even where the
    command would not use it): the file exists and is a kubeconfig with contexts, the
    context is one of the kubeconfig's. UsageError (exit 2) naming the flag; the
    contexts are listed."""
    if not kubeconfig_typed and not context_typed:
        return
    path = target.kubeconfig or os.path.expanduser(DEFAULT_KUBECONFIG)
    if kubeconfig_typed and os.pathsep in path and kubeconfig_entries(path) != [os.path.expanduser(path)]:
        raise UsageError(f"--kubeconfig {shown(path, whole=True)}: one file, as kubectl's --kubeconfig (no file has "
                         "that name; a list of kubeconfigs to merge is $KUBECONFIG's)", fix=KUBECONFIG_FIX)
    files = [p for p in kubeconfig_entries(path) if os.path.exists(p)]
    if not files and not kubeconfig_typed:
        entries = kubeconfig_entries(path)
        missing = (f"none of the $KUBECONFIG files exist ({', '.join(map(shown, entries))})" if len(entries) > 1
                   else f"{shown(path, whole=True)} does not exist")
        raise UsageError(f"--context {shown(target.context)}: no kubeconfig to look it up in ({missing})",
                         fix="pass --kubeconfig PATH of the file that has it")
    if not files:
        raise UsageError(_missing_kubeconfig(path, kubeconfig_entries(path)),
                         fix=KUBECONFIG_FIX)
    names, _ = _contexts_in(_parsed(files, path))
    if not names:
        raise UsageError(f"kubeconfig {shown(path, whole=True)} has no contexts (empty, or not a kubeconfig)",
                         fix="pass --kubeconfig PATH of one that has")
    if context_typed and target.context not in names:
        raise UsageError(f"--context {shown(target.context)}: no such context in {shown(path, whole=True)} (contexts: "
                         f"{', '.join(map(shown, names))})", fix=CONTEXT_FIX)


def check_target_loads(target: KubeTarget) -> None:
    """What connecting to ``target`` (load_configuration) would refuse in its kubeconfig,
    found by reading the files only (never connecting, no credential plugin run): a
    missing file, no current-context or one that is none of its contexts, a context whose
    cluster or user is not there. Raises what load_configuration raises (UsageError when
    the user named the kubeconfig or context, $KUBECONFIG included); nothing when no
    cluster is configured or inside a pod (the command says that itself)."""
    if not cluster_configured(target) or (not target.named and running_in_cluster()):
        return
    path = target.kubeconfig or os.path.expanduser(DEFAULT_KUBECONFIG)
    found = check_kubeconfig(path, target.context, explicit=target.kubeconfig is not None)
    context = target.context or found.current
    with only_context_fixes(found):
        check_context_entries(merged_kubeconfig(found, context), context, path, target)


DEFAULT_OBJECT_NAMESPACE = "default"
IN_CLUSTER_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def default_namespace(target: KubeTarget) -> str:
    """The namespace a command acting on the user's objects uses without -n, as kubectl:
    the `namespace` of the kubeconfig context in use (--context, else current-context),
    inside a pod its own namespace, else "default". Never connects; a kubeconfig that does
    not load gives "default" (the command's connection reports it). A namespace there
    that is not a valid name is a UsageError naming where it came from and the fix."""
    if not target.named and running_in_cluster():
        with contextlib.suppress(OSError):
            with open(IN_CLUSTER_NAMESPACE, encoding="utf-8") as handle:
                namespace = handle.read().strip() or DEFAULT_OBJECT_NAMESPACE
            return _checked_namespace(namespace, f"in {IN_CLUSTER_NAMESPACE} (this pod's service account)", "")
    path = target.kubeconfig or os.path.expanduser(DEFAULT_KUBECONFIG)
    files = [p for p in kubeconfig_entries(path) if os.path.exists(p)]
    try:
        configs = _parsed(files, None)
    except KmeshctlError:
        return DEFAULT_OBJECT_NAMESPACE
    context = target.context or _contexts_in(configs)[1]
    for file, config in zip(files, configs):  # the first file's entry of a name wins, as kubectl merges them
        body = _entry(config, "contexts", context)
        if body is not None:
            namespace = body.get("namespace")
            if namespace is None or namespace == "":
                return DEFAULT_OBJECT_NAMESPACE
            return _checked_namespace(str(namespace), f"of context {shown(context)} in kubeconfig {shown(file, whole=True)}",
                                      _context_namespace_fix(context, str(namespace)))
    return DEFAULT_OBJECT_NAMESPACE


def _context_namespace_fix(context: str, namespace: str) -> str:
    """`, or correct the context: `kubectl config set-context 'My Ctx' --namespace=team-a``:
    the context's name quoted as the shell needs it, its namespace the name the bad one
    most likely means (params.meant_namespace: `Team_A` -> team-a; NAMESPACE when none)."""
    from kmeshctl.params import meant_namespace

    line = shlex.join(["kubectl", "config", "set-context", context,
                       f"--namespace={meant_namespace(namespace) or 'NAMESPACE'}"])
    return f", or correct the context: `{line}`"


def _checked_namespace(namespace: str, origin: str, fix: str) -> str:
    """``namespace`` when it is a valid name; else a UsageError naming ``origin`` (where it
    was read) and the fix: -n with the name it most likely means (else NAMESPACE), or
    ``fix`` (how to correct that place)."""
    from kmeshctl.namespaces import DNS1123_RULE
    from kmeshctl.params import DNS1123_LABEL_RE, meant_namespace

    if DNS1123_LABEL_RE.match(namespace):
        return namespace
    raise UsageError(f"namespace {shown(namespace)} {origin}: not a valid namespace name ({DNS1123_RULE})",
                     fix=f"pass -n {meant_namespace(namespace) or 'NAMESPACE'}{fix}")


def running_in_cluster() -> bool:
    """Inside a pod with a service account: the in-cluster config is usable."""
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and os.path.exists(SERVICE_ACCOUNT_TOKEN)


def cluster_configured(target: KubeTarget) -> bool:
    """A cluster is configured for ``target``, as connecting (load_configuration) decides,
    without reading a kubeconfig or asking a server: False exactly when connecting would
    fail with NoClusterConfigured. True when a kubeconfig or context is named (--kubeconfig,
    a non-empty $KUBECONFIG, --context), even one that is missing or does not load: the
    user meant a cluster, and connecting reports what is wrong with it, naming the path
    (never falling back to local work); else inside a pod with a service account; else
    when ~/.kube/config exists. The one answer to "is a cluster configured?" of every
    command (install's offline dry run, `version`, `dump config WORD`, render's hints)."""
    return target.named or running_in_cluster() or os.path.exists(os.path.expanduser(DEFAULT_KUBECONFIG))


def missing_kubeconfig_files(target: KubeTarget) -> list[str]:
    """For a ``target`` that names a kubeconfig or context: the files of the kubeconfig it
    would load (its KUBECONFIG-style list, else ~/.kube/config for a --context alone) when
    none of them exists, as load_configuration then fails naming them; else []."""
    if not target.named:
        return []
    path = target.kubeconfig or os.path.expanduser(DEFAULT_KUBECONFIG)
    files = kubeconfig_entries(path)
    return [] if any(os.path.exists(f) for f in files) else files


def connect(target: KubeTarget) -> "KubeClient":
    """A client of the cluster ``target`` names (nothing is asked of it yet)."""
    return KubeClient(api_client(_bounded(load_configuration(target))), target)


def api_client(cfg: "k8s.Configuration") -> "k8s.ApiClient":
    """The client library's ApiClient of ``cfg`` (from load_configuration), whose every
    request carries the kubeconfig user's impersonation headers, as kubectl's: one header
    line per group or extra value, which the library's header dicts cannot hold."""
    from kubernetes import client as k8s

    api = k8s.ApiClient(cfg)
    extra = IMPERSONATION.get(id(cfg))
    if extra:
        import urllib3

        send = api.rest_client.request

        def request(method: str, url: str, headers: Optional[dict] = None, *args: Any, **kwargs: Any) -> Any:
            lines = urllib3.HTTPHeaderDict(headers or {})
            for name, value in extra:
                lines.add(name, value)
            return send(method, url, lines, *args, **kwargs)

        api.rest_client.request = request  # type: ignore[method-assign]
    return api


def connect_reachable(target: KubeTarget) -> "KubeClient":
    """A client of a cluster that answers: asks its version, so an unreachable or
    unauthorized cluster fails here with a clear message, before any other call."""
    client = connect(target)
    client.server_version()
    return client


def request_timeout_text(limit: float) -> str:
    """`--request-timeout 30s` (or `--request-timeout 0: no limit`), for messages."""
    from kmeshctl.asciinum import duration_words

    return f"--request-timeout {duration_words(limit)}" if limit else "--request-timeout 0: no limit"


# Only kmeshctl/cli/ reads the command line: it registers here how to read the run's -q, so a
# look-up a library function makes for a hint (istiod.ask_quickly) keeps its note quiet too.
_quiet_readers: list[Callable[[], bool]] = []


def read_quiet_with(reader: Callable[[], bool]) -> None:
    """Register the CLI's reader of the running command's -q."""
    _quiet_readers[:] = [reader]


def run_quiet() -> bool:
    """Whether the running command was given -q (False outside a CLI run)."""
    return bool(_quiet_readers and _quiet_readers[0]())


@contextlib.contextmanager
def waiting_note(line: str, quiet: bool, noted: Callable[[], None] = lambda: None) -> Iterator[None]:
    """``line`` on stderr once the request inside has gone WAITING_NOTE_AFTER_S without an
    answer (a peer that accepts and never answers is otherwise silence until the limit);
    ``noted`` is called once the line is written. Nothing with -q (``quiet``)."""
    import sys
    import threading

    def note() -> None:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.write(f"{line}\n")
            sys.stderr.flush()
        noted()

    if quiet:
        yield
        return
    timer = threading.Timer(WAITING_NOTE_AFTER_S, note)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def _waiting_note(host: str, target: KubeTarget,
                  noted: Callable[[], None] = lambda: None) -> contextlib.AbstractContextManager[None]:
    """`waiting for the Kubernetes API at URL (--request-timeout 30s)`, as waiting_note; for
    a look-up of its own (``target.asking``) `(asking whether foo is a namespace, up to 2s)`."""
    from kmeshctl.asciinum import duration_words

    limit = (f"{target.asking}, up to {duration_words(target.request_timeout)}" if target.asking
             else request_timeout_text(target.request_timeout))
    return waiting_note(f"waiting for the Kubernetes API at {host} ({limit})", target.quiet, noted)


def _bounded(cfg: "k8s.Configuration") -> "k8s.Configuration":
    """Every request of ``cfg`` ends within --request-timeout: urllib3 retries a stale
    or refused connection as before, never a request that timed out (each try would
    wait the whole limit again: 4 x 5 s of silence was 21 s)."""
    import urllib3

    class TimeoutsNotRetried(urllib3.Retry):
        def increment(self, *args: Any, **kwargs: Any) -> urllib3.Retry:
            error = kwargs.get("error")
            if error is not None and _timed_out(error):
                raise urllib3.exceptions.MaxRetryError(kwargs.get("_pool"), kwargs.get("url") or "", error)
            return super().increment(*args, **kwargs)

    cfg.retries = TimeoutsNotRetried(3)
    return cfg


def _timed_out(error: BaseException) -> bool:
    import socket

    import urllib3

    return isinstance(error, (socket.timeout, TimeoutError, urllib3.exceptions.TimeoutError)) or \
        "timed out" in str(error).lower()


def core_v1_api(target: KubeTarget) -> k8s.CoreV1Api:
    """The official typed client, for what the JSON client does not do (watch, exec, port-forward)."""
    from kubernetes import client as k8s

    _impersonating_websockets()
    return k8s.CoreV1Api(api_client(load_configuration(target)))


def _impersonating_websockets() -> None:
    """The client library's WebSocket streams (exec, port-forward) send a request's
    Authorization header alone: each opened for a configuration with impersonation
    (IMPERSONATION) sends those headers too, as kubectl's. Installed once."""
    import contextvars

    from kubernetes.stream import ws_client

    if getattr(ws_client.create_websocket, "impersonating", False):
        return
    extra: contextvars.ContextVar[list[tuple[str, str]]] = contextvars.ContextVar("impersonation", default=[])
    create, socket = ws_client.create_websocket, ws_client.WebSocket

    class ImpersonatingWebSocket(socket):  # type: ignore[misc, valid-type]
        def connect(self, url: str, **options: Any) -> Any:
            options["header"] = [*options.get("header", []), *(f"{k}: {v}" for k, v in extra.get())]
            return super().connect(url, **options)

    def create_websocket(configuration: Any, url: str, headers: Any = None) -> Any:
        token = extra.set(IMPERSONATION.get(id(configuration), []))
        try:
            return create(configuration, url, headers)
        finally:
            extra.reset(token)

    create_websocket.impersonating = True  # type: ignore[attr-defined]
    ws_client.WebSocket, ws_client.create_websocket = ImpersonatingWebSocket, create_websocket


def stream_lost_before_answer(err: BaseException) -> bool:
    """Whether a failed exec / port-forward upgrade (the client's ApiException of status 0)
    lost its connection before the API server answered: reset, refused, or closed with no
    HTTP status, so nothing started in the pod and opening it again is safe. False for a
    refused upgrade (an HTTP status) and any other error."""
    import ssl

    from websocket import WebSocketConnectionClosedException

    cause = err.__context__ or err.__cause__
    if getattr(err, "status", None) != 0 or cause is None or getattr(cause, "status_code", None) is not None:
        return False
    # a TLS session the server ended (or cut) before its answer: as a reset, nothing was sent
    return isinstance(cause, (ConnectionError, WebSocketConnectionClosedException, ssl.SSLZeroReturnError,
                              ssl.SSLEOFError))


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


@dataclass(frozen=True)
class ServedKinds:
    """What KubeClient.served_kinds found: the ``kinds``; the group versions of the groups
    none of whose versions could be discovered: an error or no answer (``failed``), or
    not asked before the deadline came (``late``)."""

    kinds: list[ResourceKind]
    failed: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)


class KubeClient:
    """A thin JSON client: one method per API verb the commands use."""

    def __init__(self, api_client: k8s.ApiClient, target: KubeTarget = KubeTarget()) -> None:
        self._api = api_client
        self.target = target  # the cluster it was made for: --request-timeout and -q apply to each request
        self._answered = False
        # Any request silent for a second says what it waits for, once per client: after
        # /version answered, a server may still hang on the rest (h49)
        self._noted = False
        self._group_versions: Optional[set[str]] = None
        self._group_list: Optional[list[dict]] = None  # /apis, read once with _group_versions
        self._deadline = math.inf  # within(): every request ends by then too (time.monotonic())
        self._resources: dict[str, dict[str, ResourceKind]] = {}
        # install --force-conflicts: apply with force=true (kubectl apply --server-side --force-conflicts)
        self.force_conflicts = False
        # the command that would force, for a conflict's fix (`kmeshctl install --force-conflicts`); "" none
        self.force_command = ""
        # facts a hint reads more than once in one command (istiod's cluster id), read once:
        # the client lives as long as the command, so no module-level cache
        self.hint_facts: dict[tuple[str, ...], Any] = {}

    @property
    def host(self) -> str:
        """The server's URL as messages show it: a password in it masked, as kubectl never prints one."""
        return masked_url(self._api.configuration.host)

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
        """One API call; returns the decoded JSON body (None on 404 for GET). Raises
        ApiError for another non-2xx answer (401 / 403 worded as kubectl words them),
        ApiUnreachable when nothing answers."""
        status, data = self._call(method, path, query, body, content_type)
        if method == "GET" and status == 404:
            return None
        if not 200 <= status < 300:
            raise self._refused(status, method, path, data)
        return data

    def _call(self, method: str, path: str, query: Optional[dict[str, str]] = None, body: Any = None,
              content_type: str = "application/json") -> tuple[int, Optional[dict]]:
        """The HTTP status and decoded body of one call, whatever the status."""
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
            with contextlib.nullcontext() if self._noted else _waiting_note(self.host, self.target, self._note_written):
                response = self._api.call_api(
                    method, url, header_params=headers, body=body, _request_timeout=self._request_limit()
                )
                response.read()
        except (urllib3.exceptions.HTTPError, OSError) as err:
            # after an answer (GET /version), say which request went unanswered: "cannot
            # reach" alone would contradict precheck's "API reachable: pass"
            raise self._unreachable(err, f"{method} {path}" if self._answered else "") from err
        self._answered = True
        return response.status, _decode(response.data)

    def _note_written(self) -> None:
        self._noted = True

    @contextlib.contextmanager
    def within(self, deadline: float) -> Iterator[None]:
        """Every request made meanwhile ends by ``deadline`` (time.monotonic()) as well as
        within --request-timeout: one that would not is cut (ApiUnreachable, i/o timeout),
        for a caller that then says what it could not do in time."""
        before, self._deadline = self._deadline, min(self._deadline, deadline)
        try:
            yield
        finally:
            self._deadline = before

    def _request_limit(self) -> Optional[float]:
        """One request's time limit: --request-timeout, less when within() ends sooner; None: no limit."""
        limit = min(self.target.request_timeout or math.inf, max(self._deadline - time.monotonic(), DEADLINE_FLOOR_S))
        return None if limit == math.inf else limit

    def _refused(self, status: int, method: str, path: str, data: Optional[dict]) -> ApiError:
        credentials = CREDENTIALS.get(id(self._api.configuration), "the kubeconfig user in use")
        return _api_error(status, method, path, data, credentials, host=self.host)

    # -- discovery -----------------------------------------------------------

    def server_version(self) -> dict:
        """The server's version document (``gitVersion``, ``major``, ``minor``, ...).
        NotKubernetes when what answers is not a Kubernetes API server."""
        status, data = self._call("GET", "/version")
        if not 200 <= status < 300 and status != 404:
            raise self._refused(status, "GET", "/version", data)
        if status == 404 or not is_version_document(data):
            what = "answered 404" if status == 404 else "answered, but not with a Kubernetes version document"
            raise self._not_kubernetes(f"GET /version {what}")
        return data or {}

    def _not_kubernetes(self, why: str) -> NotKubernetes:
        return NotKubernetes(f"{self.host} is not a Kubernetes API server ({why}; {self.origin})",
                             fix=NOT_KUBERNETES_FIX)

    def served_group_versions(self) -> set[str]:
        if self._group_versions is None:
            core = self.request("GET", "/api")
            versions = core.get("versions") if isinstance(core, dict) else None
            if not versions or not _all_text(versions):
                raise self._not_kubernetes("GET /api has no API versions")
            served = set(versions)
            self._group_list = self._groups()
            for group in self._group_list:
                served.update(v["groupVersion"] for v in group.get("versions") or [])
            self._group_versions = served
        return self._group_versions

    def _groups(self) -> list[dict]:
        """The API groups of /apis, their shape checked: each an object whose `versions`
        are objects naming a `groupVersion` (NotKubernetes otherwise)."""
        listing = self.request("GET", "/apis")
        groups = listing.get("groups") if isinstance(listing, dict) else None
        good = isinstance(groups, list) and all(
            isinstance(g, dict) and isinstance(g.get("versions") or [], list)
            and all(isinstance(v, dict) and isinstance(v.get("groupVersion"), str) for v in g.get("versions") or [])
            for g in groups)
        if not good:
            raise self._not_kubernetes("GET /apis answered no API group list")
        return groups

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
        listing = self.request("GET", path)
        if listing is None:  # served a moment ago, gone now (a CRD deleted): serves nothing
            return {}
        resources = listing.get("resources") if isinstance(listing, dict) else None
        if not isinstance(resources, list) or not all(_is_resource(r) for r in resources):
            raise self._not_kubernetes(f"GET {path} answered no API resource list")
        kinds: dict[str, ResourceKind] = {}
        for res in resources:
            if "/" in res["name"]:  # subresources such as daemonsets/status
                continue
            verbs = tuple(v for v in res.get("verbs") or () if isinstance(v, str))
            kinds[res["kind"]] = ResourceKind(group, version, res["kind"], res["name"], res["namespaced"], verbs)
        return kinds

    def served_kinds(self, deadline: float = math.inf) -> "ServedKinds":
        """Every kind the cluster serves, once per group and resource (at the group's
        preferred version when several serve it), each group version discovered before
        ``deadline`` (time.monotonic(); each request cut there too, KubeClient.within).

        A group counts as discovered once one of its versions is: the versions of a group
        serve the same stored objects, so a kind listed at one version shows the objects
        written at another (a stale non-preferred version, say an APIService whose backend
        is gone, does not make the group unknown). Only a group none of whose versions
        could be discovered is ``failed`` (an error answer, a malformed resource list, no
        answer within --request-timeout) or ``late`` (the deadline came first). Kinds only
        a failed non-preferred version would serve are thus not seen: discovery cannot tell
        which kinds an unanswered version has."""
        self.served_group_versions()  # /apis read once (a cached list: its groups)
        groups = [("", ["v1"])] + [(g.get("name", ""), _preferred_first(g)) for g in self._group_list or []]
        kinds: dict[tuple[str, str], ResourceKind] = {}
        failed: list[str] = []
        late: list[str] = []
        with self.within(deadline):
            for group, versions in groups:
                found, missed, past = self._group_kinds(versions, deadline)
                for kind in found or ():
                    kinds.setdefault((group, kind.plural), kind)
                if found is None:
                    failed += missed
                    late += past
        return ServedKinds(list(kinds.values()), failed, late)

    def _group_kinds(self, versions: list[str],
                     deadline: float) -> tuple[Optional[list[ResourceKind]], list[str], list[str]]:
        """The kinds of one group's ``versions`` (preferred first; None when none of them
        was discovered), the versions whose discovery failed, and those not discovered
        before ``deadline``."""
        found: Optional[list[ResourceKind]] = None
        failed: list[str] = []
        late: list[str] = []
        for api_version in versions:
            if time.monotonic() >= deadline:
                late.append(api_version)
                continue
            try:
                kinds = self.resources_of(api_version)
            except (ApiError, NotKubernetes, ApiUnreachable):
                (late if time.monotonic() >= deadline else failed).append(api_version)
                continue
            found = [*(found or []), *kinds.values()]
        return found, failed, late

    def is_served(self, api_version: str, kind: str) -> bool:
        return kind in self.resources_of(api_version)

    def kind(self, api_version: str, kind: str) -> ResourceKind:
        found = self.resources_of(api_version).get(kind)
        if found is None:
            raise KindNotServed(f"the cluster does not serve {kind} ({api_version}; {self.origin})",
                                fix=KIND_NOT_SERVED_FIX)
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
        """Server-side apply as field manager `kmeshctl`, never forcing another manager's
        fields unless ``force_conflicts`` is set (then the server hands them to kmeshctl).

        `dry_run`: dryRun=All, the API server's whole write path (admission, validation,
        field-manager conflicts) without storing anything."""
        meta = obj["metadata"]
        path = self.kind(obj["apiVersion"], obj["kind"]).object_path(meta["name"], meta.get("namespace"))
        force = "true" if self.force_conflicts else "false"
        query = {"fieldManager": FIELD_MANAGER, "force": force, "dryRun": "All" if dry_run else None}
        try:
            return self.request("PATCH", path, query, obj, APPLY_PATCH) or {}
        except ApiError as err:
            if err.status != 409:
                raise
            raise ApplyConflict(obj, err, self.force_command) from err

    def merge_patch(
        self, api_version: str, kind: str, name: str, patch: dict, namespace: Optional[str] = None,
        dry_run: bool = False,
    ) -> dict:
        """JSON merge patch (RFC 7386) of one object; ``dry_run``: dryRun=All, the API
        server's whole write path (RBAC, admission, validation) and nothing stored."""
        path = self.kind(api_version, kind).object_path(name, namespace)
        query = {"fieldManager": FIELD_MANAGER, "dryRun": "All" if dry_run else None}
        return self.request("PATCH", path, query, patch, MERGE_PATCH) or {}

    def create(self, api_version: str, kind: str, body: dict, namespace: Optional[str] = None) -> dict:
        path = self.kind(api_version, kind).collection_path(namespace)
        return self.request("POST", path, {"fieldManager": FIELD_MANAGER}, body) or {}

    def delete(self, api_version: str, kind: str, name: str, namespace: Optional[str] = None,
               propagation: str = "Background", dry_run: bool = False,
               preconditions: Optional[dict[str, str]] = None) -> bool:
        """Delete with ``propagation`` (Background, Foreground, Orphan); False when the
        object was already gone. ``dry_run``: the API server checks the delete (dryRun=All:
        admission, RBAC) and deletes nothing. ``preconditions`` (uid, resourceVersion): the
        object is deleted only as it was read, else the API server answers 409."""
        path = self.kind(api_version, kind).object_path(name, namespace)
        # kube-apiserver reads a DELETE's options from its body when it has one and then
        # ignores the query: dryRun must be in the body, or the delete is real.
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation,
                **({"dryRun": ["All"]} if dry_run else {}),
                **({"preconditions": preconditions} if preconditions is not None else {})}
        try:
            self.request("DELETE", path, None, body=body)
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
                raise self._refused(response.status, "WATCH", path, _decode(response.read()))
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
        return KubeClient(self._api, self.target)

    def _unreachable(self, err: BaseException, request: str = "") -> ApiUnreachable:
        """``request``: the call that went unanswered after earlier ones were answered."""
        reason, fix = _transport_kind(err)
        after = f" to {request}, though earlier requests were answered" if request else ""
        proxy = _proxy_used(self._api.configuration)
        if proxy and _proxy_failed(err):  # kubectl's `proxyconnect tcp: ...`: the proxy, not the API server
            return ApiUnreachable(f"cannot reach the Kubernetes API at {self.host} through proxy {shown(proxy)} "
                                  f"(proxyconnect: {reason}{after}; {self.origin})",
                                  fix=ENV_PROXY_FIX if getattr(self._api.configuration, "_proxy_from_env", False)
                                  else PROXY_FIX)
        through = f" through proxy {shown(proxy)}" if proxy else ""
        if reason == "i/o timeout" and self.target.request_timeout:
            return ApiUnreachable(
                f"cannot reach the Kubernetes API at {self.host}{through} (i/o timeout: no answer within "
                f"{request_timeout_text(self.target.request_timeout)[len('--request-timeout '):]}{after}; {self.origin})",
                fix="check that the cluster is up, pass --kubeconfig/--context of one that is, or wait longer "
                    "with --request-timeout DURATION")
        return ApiUnreachable(f"cannot reach the Kubernetes API at {self.host}{through} ({reason}{after}; "
                              f"{self.origin})", fix=fix)


def masked_url(url: str) -> str:
    """``url`` with the password of its user info (`https://admin:s3cret@host`) shown as `xxxxx`."""
    scheme, sep, rest = url.partition("://")
    authority, slash, tail = rest.partition("/")
    user_info, at, host = authority.rpartition("@")
    if not sep or not at or ":" not in user_info:
        return url
    return f"{scheme}://{user_info.partition(':')[0]}:xxxxx@{host}{slash}{tail}"


def _proxy_used(cfg: "k8s.Configuration") -> str:
    """The proxy the requests of ``cfg`` go through: the cluster's proxy-url, else one of
    the environment (HTTPS_PROXY ...); "" when there is none or NO_PROXY names the host."""
    from kubernetes.client import rest

    proxy = getattr(cfg, "proxy", None)
    bypass = getattr(rest, "should_bypass_proxies", None)  # kubernetes >= 35
    if not proxy or (bypass is not None and bypass(cfg.host, getattr(cfg, "no_proxy", None) or "")):
        return ""
    return SHOWN_PROXY.get(id(cfg), str(proxy))


def _proxy_failed(err: BaseException) -> bool:
    """The proxy itself (proxy-url, HTTPS_PROXY) was not reached: urllib3's ProxyError (http,
    https) or PySocks' ProxyConnectionError (socks5) anywhere in ``err``'s causes."""
    seen: set[int] = set()
    todo: list[Any] = [err]
    while todo:
        cause = todo.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        if type(cause).__name__ in ("ProxyError", "ProxyConnectionError"):
            return True
        todo += [cause.__cause__, cause.__context__, getattr(cause, "reason", None)]
    return False


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


# Where a 403 of install points (the CLI puts it in place of the `kubectl auth can-i` every other command's
# 403 gives); precheck never points at itself ("run what you are running"): its FIX gives the can-i line.
PRECHECK_LISTS = "`kmeshctl precheck` lists what install needs"
_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")\]>]+)")
_SOCKS_REPLY = re.compile(r"\b0x0[1-8]: ([^'\")\]>]+)")  # PySocks' words for a SOCKS5 reply code
UP_FIX = ("check that the cluster is up and its server address is right, or pass --kubeconfig/--context of one "
          "that is")
PROXY_FIX = ("check that the proxy is up and the cluster's proxy-url in the kubeconfig is right, or pass "
             "--kubeconfig/--context of another cluster")
ENV_PROXY_FIX = ("check that the proxy is up and the environment's HTTPS_PROXY / HTTP_PROXY (and NO_PROXY) are right, "
                 "or unset them")
CA_FIX = ("set the cluster's certificate-authority-data (or certificate-authority) in the kubeconfig to the CA "
          "that signed the API server's certificate, or pass --kubeconfig/--context of another cluster")
# Transport failures as kubectl (Go's net/http) words them, each with its one fix; the first that matches wins.
_TRANSPORT_KINDS = (
    (re.compile(r"WRONG_VERSION_NUMBER|record layer failure|wrong version number|http request", re.I),
     "the server gave an HTTP response to an HTTPS client",
     "the server speaks plain HTTP: write http:// in the kubeconfig's server, or check the port (it is not the "
     "API server's HTTPS port)"),
    (re.compile(r"Hostname mismatch|IP address mismatch|doesn't match", re.I),
     "x509: certificate is not valid for the server's host name",
     "use the host name the API server's certificate names in the kubeconfig's server (or set tls-server-name), "
     "or pass --kubeconfig/--context of another cluster"),
    (re.compile(r"certificate verify failed|CERTIFICATE_VERIFY_FAILED", re.I), "x509: certificate verify failed",
     CA_FIX),
    (re.compile(r"SSLZeroReturnError|UNEXPECTED_EOF|EOF occurred|connection has been closed \(EOF\)", re.I),
     "EOF: the server closed the connection during the TLS handshake",
     "check the server's scheme and port in the kubeconfig (is an HTTPS API server listening there?), or pass "
     "--kubeconfig/--context of another cluster"),
    (re.compile(r"Name or service not known|nodename nor servname|No address associated", re.I), "no such host",
     "check the server's host name in the kubeconfig, or pass --kubeconfig/--context of another cluster"),
    (re.compile(r"Temporary failure in name resolution", re.I),
     "no such host (temporary failure in name resolution)", "check this machine's DNS and the server's host name in the kubeconfig, then re-run"),
    (re.compile(r"timed out", re.I), "i/o timeout", UP_FIX),
    (re.compile(r"RemoteDisconnected|Connection aborted|connection reset", re.I), "connection reset by peer",
     UP_FIX),
)


def transport_reason(err: BaseException) -> str:
    """What went wrong on the wire, in kubectl's words (`connection refused`, `no such host`,
    `i/o timeout`): urllib3 wraps the reason in its own class names and Python's errno text."""
    return _transport_kind(err)[0]


def transport_fix(err: BaseException) -> str:
    """The one fix of a transport failure's kind (every command words it the same)."""
    return _transport_kind(err)[1]


def _transport_kind(err: BaseException) -> tuple[str, str]:
    text = str(err)
    for pattern, words, fix in _TRANSPORT_KINDS:
        if pattern.search(text):
            return words, fix
    found = _SOCKS_REPLY.search(text)
    if found:  # the socks5 proxy was reached and tried the server for us
        reason = found.group(1).strip()
        return f"{reason[:1].lower() + reason[1:]}, the proxy answered", UP_FIX
    found = _ERRNO.search(text)
    if found:
        reason = found.group(1).strip()
        return reason[:1].lower() + reason[1:], UP_FIX
    return "no answer", UP_FIX


def diagnosis(err: BaseException) -> tuple[str, str]:
    """(problem, fix) of a failure to use the cluster: the one place a fix is chosen for
    each kind, so every command (and precheck's DETAIL / FIX) says the same. The fix an
    error was raised with wins (transport failures get theirs from _TRANSPORT_KINDS);
    a kind raised without one gets its kind's here."""
    problem = getattr(err, "problem", "") or str(err)
    fix = getattr(err, "fix", "")
    if fix:
        return problem, fix
    if isinstance(err, ApiError):
        return problem, server_error_fix()
    for kind, kind_fix in _KIND_FIXES:
        if isinstance(err, kind):
            return problem, kind_fix
    return problem, "fix the error shown, then re-run"


_KIND_FIXES: tuple[tuple[type, str], ...] = (
    (ApiError, "the API server answered with an error: check its health (`kubectl get --raw /readyz`), then re-run"),
    (NotKubernetes, NOT_KUBERNETES_FIX),
    (ApiUnreachable, UP_FIX),
    ((KubeconfigProblem, UsageError, NoClusterConfigured, CredentialPluginFailed),
     "fix the kubeconfig entry named, or pass --kubeconfig/--context of another cluster"),
)


def is_version_document(data: Any) -> bool:
    """``data`` is what a Kubernetes API server answers at /version (`gitVersion`: v1.30.2)."""
    return isinstance(data, dict) and isinstance(data.get("gitVersion"), str) and \
        bool(re.match(r"^v?\d+\.\d+", data["gitVersion"])) and "major" in data and "minor" in data


# The RBAC verb of each method (GET of a collection is `list`).
_VERBS = {"POST": "create", "PATCH": "patch", "PUT": "update", "DELETE": "delete", "WATCH": "watch"}
_RESOURCE_PATH = re.compile(r"^/(?:api/[^/]+|apis/([^/]+)/[^/]+)(?:/namespaces/([^/]+))?/([^/]+)(?:/([^/]+))?")


def rbac_request(method: str, path: str) -> str:
    """`get daemonsets.apps in namespace kmesh-system`, `get path /version`: what a 403 refused."""
    found = _RESOURCE_PATH.match(path.split("?", 1)[0])
    if not found:
        return f"{method.lower() if method != 'GET' else 'get'} path {path}"
    group, namespace, resource, name = found.groups()
    if resource == "namespaces" and namespace is None and name:
        namespace, resource, name = None, "namespaces", name
    verb = _VERBS.get(method, "get" if name else "list")
    where = f" in namespace {namespace}" if namespace else ""
    return f"{verb} {resource}{'.' + group if group else ''}{where}"


def can_i_pointer(method: str, path: str) -> str:
    """A 403's pointer: `(`kubectl auth can-i ...` checks it)` (is_can_i_pointer knows it)."""
    return f"`{can_i_command(method, path)}` checks it"


def is_can_i_pointer(see: str) -> bool:
    return see.startswith("`kubectl auth can-i ") and see.endswith("` checks it")


def can_i_command(method: str, path: str) -> str:
    """`kubectl auth can-i get daemonsets.apps -n kmesh-system` (`-A`: in every namespace;
    `get /version`: a path): whether the user may make the call a 403 refused. True for
    any command, where precheck lists only what install needs."""
    found = _RESOURCE_PATH.match(path.split("?", 1)[0])
    if not found:
        return shlex.join(["kubectl", "auth", "can-i", _VERBS.get(method, "get"), path.split("?", 1)[0]])
    group, namespace, resource, name = found.groups()
    verb = _VERBS.get(method, "get" if name else "list")
    if resource == "namespaces" and namespace is None:
        where: list[str] = []
    else:
        where = ["-n", namespace] if namespace else ["-A"]
    return shlex.join(["kubectl", "auth", "can-i", verb, f"{resource}{'.' + group if group else ''}", *where])


def _decode(raw: bytes) -> Optional[dict]:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return {"message": body_line(raw)} if body_line(raw) else {}


BODY_LINE_CHARS = 120  # at most this much of an answer's text in an error line


def body_line(body: bytes | str) -> str:
    """A response body shortened for an error line: the `error` / `message` of a JSON
    body, else the first line of a text body, at most BODY_LINE_CHARS; '' for an HTML
    page or an empty body (its markup says nothing the status does not)."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("error") or data.get("message"), str):
        line = " ".join((data.get("error") or data.get("message")).split())  # the whole message
    elif data is not None or text.lstrip().startswith("<"):
        return ""
    else:
        line = " ".join(next((ln for ln in text.splitlines() if ln.strip()), "").split())
    return line if len(line) <= BODY_LINE_CHARS else line[:BODY_LINE_CHARS - 3] + "..."


def server_error_fix() -> str:
    """The one fix of an API server answering 5xx (etcd, webhook or apiserver trouble).
    The CLI adds the user's --kubeconfig/--context to the backticked kubectl command as it
    prints it (kmeshctl.cli.suggestions.as_the_user_reads), as to every other one."""
    return "check its health with `kubectl get --raw /readyz`, then retry"


def _api_error(status: int, method: str, path: str, data: Optional[dict],
               credentials: str = "the kubeconfig user in use", host: str = "") -> ApiError:
    """The ApiError of a refused call; 401, 403 and 5xx worded as kubectl words them, with the fix."""
    data = data or {}
    reason = data.get("reason", "")
    message = " ".join((data.get("message") or f"HTTP {status}").split())  # one line
    causes = tuple((data.get("details") or {}).get("causes") or ())
    if status in (401, 403) and credentials.startswith(UNSENT):
        # a 403 too: an API server with anonymous requests allowed (the default) forbids, as
        # system:anonymous, what it would have let the user do
        said = f"You must be logged in to the server (Unauthorized): {method} {path} was refused" \
            if status == 401 else f"Forbidden: {message}"
        return ApiError(status, reason or ("Unauthorized" if status == 401 else "Forbidden"),
                        f"{said}; it got no credentials (the server is http://, and kubectl sends user "
                        f"{credentials[len(UNSENT):]}'s over https only)", causes,
                        fix="write the API server's https:// address in the kubeconfig's server")
    if status == 401:
        return ApiError(status, reason or "Unauthorized", f"You must be logged in to the server (Unauthorized): "
                        f"{method} {path} was refused", causes, fix=f"fix the credentials of {credentials} (an "
                        "expired token or certificate: log in again and refresh the kubeconfig)")
    if status == 403:
        return ApiError(status, reason or "Forbidden", f"Forbidden: {message}", causes,
                        fix=f"ask a cluster admin for RBAC permission to {rbac_request(method, path)}",
                        see=can_i_pointer(method, path))
    if status >= 500:
        server = f"the API server at {host}" if host else "the API server"
        return ApiError(status, reason, f"{server} answered {status} ({message}) to {method} {path}", causes,
                        fix=server_error_fix())
    return ApiError(status, reason, f"{method} {path} failed: {message}", causes)


_CONFLICT_MANAGER = re.compile(r'conflict with "((?:[^"\\]|\\.)*)"')


# How kmeshctl treats another manager's fields: with a --force-conflicts flag on the command
# running (FORCE_WORDS), or on one without it (NEVER_FORCE_WORDS: the demo's dry runs).
FORCE_WORDS = "(kmeshctl takes another manager's fields only with --force-conflicts)"
NEVER_FORCE_WORDS = "(this command never takes another manager's fields)"


def conflict_problem(obj: dict, err: ApiError, forceable: bool = True) -> str:
    """One line naming the object, each owning field manager and its fields, and whether
    the command running can take them (``forceable``: it has --force-conflicts).

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
    return f"{object_ref(obj)}: {detail} {FORCE_WORDS if forceable else NEVER_FORCE_WORDS}"


def _display_name(meta: dict) -> str:
    return f"{meta['namespace']}/{meta['name']}" if meta.get("namespace") else meta["name"]


def object_ref(obj: dict) -> str:
    """`Kind namespace/name` for messages."""
    return f"{obj['kind']} {_display_name(obj['metadata'])}"
