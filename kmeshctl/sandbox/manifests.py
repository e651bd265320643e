"""Kubernetes YAML the sandbox understands: Namespace, Service, Deployment,
ServiceAccount, VirtualService, DestinationRule and AuthorizationPolicy (kmeshctl.sandbox.authz), parsed into plain dataclasses and validated as a
whole before anything is created; every field read is first checked for its shape
(kmeshctl.sandbox.shapes, kmeshctl.sandbox.authz_shapes). Anything else is a clear "not supported in the
sandbox" error naming the file and the object."""

from __future__ import annotations

import difflib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

from kmeshctl.asciinum import is_digits
from kmeshctl.errors import UsageError
from kmeshctl.params import shown, yaml_where
from kmeshctl.paths import examples_dir
from kmeshctl.sandbox import authz as authz_mod
from kmeshctl.sandbox import authz_shapes, shapes

DEFAULT_NAMESPACE = "default"
CLUSTER_DOMAIN = "cluster.local"
DATAPLANE_MODE_LABEL = "istio.io/dataplane-mode"
USE_WAYPOINT_LABEL = "istio.io/use-waypoint"
ISTIO_NETWORKING_VERSIONS = ("networking.istio.io/v1alpha3", "networking.istio.io/v1beta1",
                             "networking.istio.io/v1")
SUPPORTED_KINDS = {
    "Namespace": ("v1",),
    "Service": ("v1",),
    "Deployment": ("apps/v1",),
    "VirtualService": ISTIO_NETWORKING_VERSIONS,
    "DestinationRule": ISTIO_NETWORKING_VERSIONS,
    "ServiceAccount": ("v1",),
    "AuthorizationPolicy": authz_mod.API_VERSIONS,
}
MAX_REPLICAS = 10

# Object names as the API server checks them (k8s.io/apimachinery validation): a name
# becomes a file, socket, netns and cgroup name here, so nothing else may pass.
_DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS1035_LABEL = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
# kind -> (pattern, max length, what Kubernetes calls it)
_NAME_RULES = {
    "Namespace": (_DNS1123_LABEL, 63, "RFC 1123 label"),
    "Service": (_DNS1035_LABEL, 63, "RFC 1035 label"),
    "Deployment": (_DNS1123_SUBDOMAIN, 253, "RFC 1123 subdomain"),
    "VirtualService": (_DNS1123_SUBDOMAIN, 253, "RFC 1123 subdomain"),
    "DestinationRule": (_DNS1123_SUBDOMAIN, 253, "RFC 1123 subdomain"),
    "ServiceAccount": (_DNS1123_SUBDOMAIN, 253, "RFC 1123 subdomain"),
    "AuthorizationPolicy": (_DNS1123_SUBDOMAIN, 253, "RFC 1123 subdomain"),
    "container": (_DNS1123_LABEL, 63, "RFC 1123 label"),
    "port": (_DNS1123_LABEL, 63, "RFC 1123 label"),  # a Service port's name
}


def check_name(kind: str, name: Any, field_name: str = "metadata.name") -> str:
    """``name`` if Kubernetes accepts it as the name of a ``kind``, else UsageError naming
    the rule (lower-case alphanumerics and '-', at most 63 or 253 characters...)."""
    pattern, limit, rule = _NAME_RULES[kind]
    if isinstance(name, str) and len(name) <= limit and pattern.fullmatch(name):
        return name
    shown = repr(name) if not isinstance(name, str) or len(name) <= 80 else repr(name[:80] + "...")
    chars = "'-' and '.'" if rule.endswith("subdomain") else "'-'"
    start = "a letter" if rule == "RFC 1035 label" else "an alphanumeric"
    raise UsageError(f"{field_name} {shown} is not a valid {kind} name ({rule}: lower-case letters, digits "
                     f"and {chars}, starting with {start} and ending with an alphanumeric, at most "
                     f"{limit} characters); {_meant(kind, name, field_name)}")


def _meant(kind: str, name: Any, field_name: str) -> str:
    """`did you mean namespace: default?` when the name written another way (lower case,
    `_` as `-`) is valid for ``kind``; else `rename it`."""
    pattern, limit, _ = _NAME_RULES[kind]
    meant = re.sub(r"[^a-z0-9.-]+", "-", name.lower()).strip("-.") if isinstance(name, str) else ""
    if meant and meant != name and len(meant) <= limit and pattern.fullmatch(meant):
        key = field_name.rpartition(".")[2] if field_name.startswith(("metadata.", "spec.")) else ""
        return f"did you mean {key}: {meant}?" if key else f"did you mean {meant}?"
    return "rename it"


def service_hostname(name: str, namespace: str) -> str:
    """The cluster DNS name of a Service (NAME.NAMESPACE.svc.cluster.local)."""
    return f"{name}.{namespace}.svc.{CLUSTER_DOMAIN}"


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def in_mesh(self) -> bool:
        return self.labels.get(DATAPLANE_MODE_LABEL, "").lower() == "kmesh"


@dataclass(frozen=True)
class ServicePort:
    name: str
    port: int
    target_port: int | str
    protocol: str = "TCP"


@dataclass(frozen=True)
class Service:
    name: str
    namespace: str
    labels: dict[str, str]
    selector: dict[str, str]
    ports: tuple[ServicePort, ...]

    @property
    def hostname(self) -> str:
        return service_hostname(self.name, self.namespace)


@dataclass(frozen=True)
class ContainerPort:
    name: str
    port: int


@dataclass(frozen=True)
class Container:
    name: str
    image: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    ports: tuple[ContainerPort, ...]


@dataclass(frozen=True)
class Deployment:
    name: str
    namespace: str
    replicas: int
    pod_labels: dict[str, str]
    containers: tuple[Container, ...]
    service_account: str = "default"  # the pod's identity (authorization policies match it)


@dataclass(frozen=True)
class Destination:
    host: str
    subset: str
    port: int | None
    weight: int


@dataclass(frozen=True)
class UriMatch:
    kind: str  # "prefix" | "exact"
    value: str


@dataclass(frozen=True)
class HttpRoute:
    matches: tuple[UriMatch, ...]
    destinations: tuple[Destination, ...]


@dataclass(frozen=True)
class VirtualService:
    name: str
    namespace: str
    hosts: tuple[str, ...]
    http: tuple[HttpRoute, ...]


@dataclass(frozen=True)
class Subset:
    name: str
    labels: dict[str, str]


@dataclass(frozen=True)
class DestinationRule:
    name: str
    namespace: str
    host: str
    subsets: tuple[Subset, ...]


@dataclass
class Manifests:
    """Everything read from the files, in file order."""

    namespaces: dict[str, Namespace] = field(default_factory=dict)
    services: list[Service] = field(default_factory=list)
    deployments: list[Deployment] = field(default_factory=list)
    virtual_services: list[VirtualService] = field(default_factory=list)
    destination_rules: list[DestinationRule] = field(default_factory=list)
    authorization_policies: list[authz_mod.AuthorizationPolicy] = field(default_factory=list)
    documents: list[dict[str, Any]] = field(default_factory=list)  # as read, for the record
    # (kind, namespace, name) -> the file it came from: errors of the checks across objects start with it
    sources: dict[tuple[str, str, str], str] = field(default_factory=dict)

    def source(self, kind: str, namespace: str, name: str) -> str:
        """`FILE: ` for an error about the object (the CLI shows it as `-f FILE: `)."""
        path = self.sources.get((kind, namespace, name))
        return f"{path}: " if path else ""

    def namespace(self, name: str) -> Namespace:
        """A namespace the files do not declare (one every cluster has: BUILTIN_NAMESPACES) has no labels."""
        return self.namespaces.get(name, Namespace(name))

    def service_for_host(self, host: str, namespace: str) -> Service | None:
        wanted = resolve_host(host, namespace)
        return next((s for s in self.services if (s.namespace, s.name) == wanted), None)

    def destination_rule_for(self, service: Service) -> DestinationRule | None:
        return next((dr for dr in self.destination_rules
                     if self.service_for_host(dr.host, dr.namespace) == service), None)


def resolve_host(host: str, namespace: str) -> tuple[str, str]:
    """Istio short names: `fortio` is relative to the object's namespace;
    `fortio.ns`, `fortio.ns.svc` and the FQDN name the Service in `ns`."""
    parts = host.split(".")
    if len(parts) == 1:
        return namespace, host
    return parts[1], parts[0]


# ---------------------------------------------------------------- loading


def default_files() -> list[Path]:
    return sorted(examples_dir().joinpath("fortio").glob("*.yaml"))


def load(paths: Iterable[Path]) -> Manifests:
    """Read every YAML document of the files (or *.yaml in directories) and validate."""
    paths = list(paths)
    manifests = Manifests()
    defined: dict[tuple[str, str, str], _Source] = {}
    for index, typed in enumerate(paths):
        for path in _expand([typed]):
            for where, doc in _documents(path):
                _add(manifests, doc, str(path), where)
                _check_defined_once(defined, doc, _Source(where, Path(typed), path, index))
    if not manifests.documents:
        shown = ", ".join(str(p) for p in paths)
        raise UsageError(f"{shown}: no Kubernetes objects (empty or only comments); pass a file with "
                         "the objects to run")
    validate(manifests)
    check_namespaces_defined(manifests)
    return manifests


# The namespaces every cluster has (and a mesh's: istio-system, the root namespace of
# AuthorizationPolicies): objects may be in them with no Namespace in the files.
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "istio-system")


def check_namespaces_defined(manifests: Manifests) -> None:
    """As the API server refuses an object in a namespace that does not exist (`kubectl
    apply` says `namespaces "other" not found`), an object in a namespace the files do
    not define is refused (`from_documents`, for objects already accepted, does not check)."""
    for kind, namespace, name in manifests.sources:
        if kind != "Namespace" and namespace not in manifests.namespaces and namespace not in BUILTIN_NAMESPACES:
            raise UsageError(f"{manifests.source(kind, namespace, name)}{kind} {namespace}/{name}: namespace "
                             f"{namespace} is not defined in the files; add a Namespace {namespace} (kind: Namespace)")


UNIQUE_KINDS = ("Service", "Deployment", "VirtualService", "DestinationRule", "AuthorizationPolicy")


@dataclass(frozen=True)
class _Source:
    """Where a document was read: its place in words (`FILE: document 2`), the path typed
    after -f, the file read, and which -f (one file read twice is two -f)."""

    where: str
    typed: Path
    path: Path
    given: int


def _check_defined_once(defined: dict[tuple[str, str, str], _Source], doc: dict[str, Any],
                        source: _Source) -> None:
    """A second definition of an object is refused naming both places: the file and
    document of each; twice in one file (one -f) as such; and when both are one file
    given twice (a directory and a file in it, or the same -f twice), that."""
    kind, meta = doc.get("kind"), doc.get("metadata") or {}
    if kind not in UNIQUE_KINDS or not isinstance(meta, dict):
        return
    key = (str(kind), str(meta.get("namespace") or DEFAULT_NAMESPACE), str(meta.get("name")))
    if key not in defined:
        defined[key] = source
        return
    first_source = defined[key]
    first, first_typed, first_file = first_source.where, first_source.typed, first_source.path
    where, typed, path = source.where, source.typed, source.path
    also = first.replace(": document", ", document")
    if first_source.given == source.given and first_file == path:  # one read of one file: written twice in it
        place = first.partition(": ")[2]
        within = "of stdin" if str(path) == STDIN else f"in {_typed(first_file)}"
        raise UsageError(f"{where}: {kind} {key[1]}/{key[2]} is defined twice (also {place} {within}); keep one")
    if str(path) != STDIN and first_file.resolve() == path.resolve() or str(path) == str(first_file) == STDIN:
        if str(first_typed) == str(typed):  # `-f a.yaml -f a.yaml`: said as typed, not `given as a.yaml and as a.yaml`
            raise UsageError(f"{_typed(typed)} given twice; give each file once")
        raise UsageError(f"{where}: {kind} {key[1]}/{key[2]} is defined twice (also in {also}: the same file, "
                         f"given as {_typed(first_typed)} and as {_typed(typed)}); give each file once")
    raise UsageError(f"{where}: {kind} {key[1]}/{key[2]} is defined twice (also in {also}); keep one")


def from_documents(documents: Iterable[Any], source: str = "sandbox record") -> Manifests:
    """The same as `load` for objects already parsed (e.g. an edited VirtualService)."""
    manifests = Manifests()
    for number, doc in enumerate(documents, start=1):
        if doc is not None:
            where = f"{source}: document {number}"
            _add(manifests, _as_object(doc, where), source, where)
    validate(manifests)
    return manifests


def kinds_text() -> str:
    """The kinds the sandbox reads, in words: the one list of `sandbox up`'s help and errors."""
    return ", ".join(SUPPORTED_KINDS)


def _expand(paths: Iterable[Path]) -> list[Path]:
    """Files to read: each file, each directory's *.yaml and *.yml, `-` for stdin (as kubectl)."""
    files: list[Path] = []
    for path in map(Path, paths):
        if str(path) == STDIN:
            files.append(path)
        elif is_url(str(path)):
            raise url_refused(str(path))
        elif path.is_dir():
            found = sorted([*path.glob("*.yaml"), *path.glob("*.yml"), *path.glob("*.json")])
            if not found:
                raise UsageError(f"{_typed(path)}: no YAML manifests in this directory (no *.yaml or *.yml "
                                 f"file) and no JSON (*.json){_subdirectories(path)}; pass a directory or file "
                                 "with Kubernetes objects")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"{path}: does not exist; pass a YAML file or directory")
    return files


def _subdirectories(path: Path) -> str:
    """`; its subdirectory sub/ is not read (give each with -f DIR/sub/)` for those holding
    manifests: -f reads one level, as kubectl without -R."""
    subs = sorted(p for p in path.iterdir() if p.is_dir() and any(
        f.suffix in (".yaml", ".yml", ".json") for f in p.iterdir() if f.is_file()))
    if not subs:
        return ""
    what = f"subdirectory {subs[0].name}/ is" if len(subs) == 1 else \
        f"subdirectories ({', '.join(p.name + '/' for p in subs[:3])}{'...' if len(subs) > 3 else ''}) are"
    return f"; its {what} not read (give each with -f {_typed(subs[0])})"


# `https://...`, `http:/...` (a Path keeps one slash): a URL, never a file name on purpose
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")


def is_url(text: str) -> bool:
    return bool(_URL.match(text))


def url_refused(text: str) -> UsageError:
    """A URL given as a manifest file: the sandbox never fetches anything (no network
    access is assumed); how to get the file instead."""
    name = text.rstrip("/").rsplit("/", 1)[-1] or "manifests.yaml"
    return UsageError(f"{text}: URLs are not supported; download it first (curl -o {name} {text}) "
                      "and pass the file")


STDIN = "-"  # `-f -`: the manifests come from stdin, as with `kubectl apply -f -`
_stdin_text: list[str] = []  # read once: `-f - -f -` does not wait for a second end of input


def _typed(path: Path) -> str:
    """A directory as typed (`emptydir/` keeps its slash: Path drops it)."""
    return f"{path}/" if path.is_dir() and not str(path).endswith("/") else str(path)


def _read(path: Path) -> str:
    if str(path) != STDIN:
        return path.read_text(encoding="utf-8")
    if not _stdin_text:  # its bytes, decoded as a file is: not UTF-8 is said so, not read as escapes
        raw = getattr(sys.stdin, "buffer", None)
        _stdin_text.append(raw.read().decode("utf-8") if raw is not None else sys.stdin.read())
    return _stdin_text[0]


def _documents(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The objects of a file, each with where it is in words (`FILE: document 2`, `...,
    item 3` of a List); empty documents are skipped (as kubectl does), anything else that
    is not an object is a UsageError saying which document and what it is."""
    try:
        docs = list(yaml.load_all(_read(path), Loader=_UniqueKeyLoader))
    except DuplicateKey as err:
        raise UsageError(f"{path}: {err}") from err
    except UnicodeDecodeError as err:
        raise UsageError(f"{path} is not UTF-8 text (byte {err.start}): pass -f FILE with YAML manifests") from err
    except yaml.YAMLError as err:
        raise UsageError(f"{shown(path)}: not valid YAML at {yaml_where(path, err)}; use a valid YAML file") from err
    result = []
    for number, doc in enumerate(docs, start=1):
        if doc is None:
            continue
        where = f"{path}: document {number}"
        obj = _as_object(doc, where)
        if obj.get("kind") == "List":
            items = obj.get("items") or []
            if not isinstance(items, list):
                raise UsageError(f"{where} is a List whose items is {_what(items)}, not a list of objects: "
                                 "fix the file")
            result.extend((f"{where}, item {i}", _as_object(item, f"{where}, item {i}"))
                          for i, item in enumerate(items, start=1))
        else:
            result.append((where, obj))
    return result


class DuplicateKey(yaml.YAMLError):
    """A mapping key given twice (kubectl refuses it; PyYAML would keep the last one)."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice, as kubectl's YAML reader does:
    two objects run together without `---` would otherwise become one, the last wins."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<:` merges; its keys may repeat
                continue
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader says so itself
                continue
            if first is not None:
                raise DuplicateKey(_duplicate_text(key, line, first, node))
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _duplicate_text(key: Any, line: int, first: int, node: yaml.MappingNode) -> str:
    """`line 6: mapping key "kind" already defined at line 2; ...`, with the likely cause
    when a top-level object key repeats (two objects with no `---` between them)."""
    text = f'line {line}: mapping key "{key}" already defined at line {first}'
    if node.start_mark.column == 0 and key in ("apiVersion", "kind", "metadata", "spec"):
        return f"{text}; separate two objects with a line `---`, or remove one of the keys"
    return f"{text}; remove one of them"


_OBJECT_FIELDS = "a mapping with apiVersion, kind and metadata.name"


_what = shapes.what


def _as_object(doc: Any, where: str) -> dict[str, Any]:
    """``doc`` when it can be a Kubernetes object (a mapping with apiVersion and kind,
    given as text), else a UsageError saying what ``where`` holds instead."""
    if not isinstance(doc, dict):
        raise UsageError(f"{where} is not a Kubernetes object but {_what(doc)}: each document must be "
                         f"{_OBJECT_FIELDS}")
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise UsageError(f"{where} has no kind" + (f" (kind is {_what(kind)})" if kind is not None else "")
                         + f": each document must be {_OBJECT_FIELDS}")
    api_version = doc.get("apiVersion")
    if not isinstance(api_version, str) or not api_version:
        hint = f" (apiVersion: {' or '.join(SUPPORTED_KINDS[kind])})" if kind in SUPPORTED_KINDS else ""
        raise UsageError(f"{where} ({kind}) has no apiVersion: add one{hint}")
    return doc


def _add(manifests: Manifests, doc: dict[str, Any], path: str, position: str = "") -> None:
    kind = doc.get("kind")
    api_version = doc.get("apiVersion")
    if kind not in SUPPORTED_KINDS:  # before its name: a kubeconfig (kind Config) has none
        raise UsageError(f"{position or path}: kind {kind} is not supported in the sandbox "
                         f"(supported: {kinds_text()}); remove it from the files")
    name = _name(doc, position or path)
    where = f"{path}: {kind} {name}"
    if api_version not in SUPPORTED_KINDS[kind]:
        raise UsageError(f"{where}: apiVersion {api_version} is not supported in the sandbox "
                         f"(use {' or '.join(SUPPORTED_KINDS[kind])})")
    try:
        _PARSERS[kind](manifests, doc, name)
        manifests.documents.append(doc)
        namespace = str((doc.get("metadata") or {}).get("namespace") or DEFAULT_NAMESPACE)
        manifests.sources[(kind, namespace, name)] = path
    except UsageError as err:
        raise UsageError(f"{where}: {err}") from err
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        # every field is checked before use (kmeshctl.sandbox.shapes): this is a field no check covers yet
        raise UsageError(f"{where}: a field has a shape the sandbox cannot read; compare the object with "
                         f"the {kind} in {examples_dir() / 'fortio'} and fix it") from err


def _name(doc: dict[str, Any], where: str) -> str:
    """The object's metadata.name, checked; ``where``: the document in words."""
    metadata = doc.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise UsageError(f"{where} ({doc['kind']}): metadata is {_what(metadata)}, not a mapping: give "
                         "metadata: {name: NAME}")
    name = (metadata or {}).get("name")
    if name is None or name == "":
        raise UsageError(f"{where} ({doc['kind']}) has no metadata.name: add one")
    if not isinstance(name, str):
        raise UsageError(f"{where} ({doc['kind']}): metadata.name is {_what(name)}, not text (Kubernetes refuses "
                         f"it too): {_name_example(str(doc['kind']), name)}")
    if doc.get("kind") in _NAME_RULES:
        try:
            check_name(doc["kind"], name)
        except UsageError as err:
            raise UsageError(f"{where}: {doc['kind']}: {err}") from err
    return name


def _name_example(kind: str, name: Any) -> str:
    """How to write a name that is not text (`name: 5`): quoted when the kind accepts it so
    (`write name: "5", in quotes`), else a name it accepts."""
    pattern, limit, _ = _NAME_RULES.get(kind, _NAME_RULES["Deployment"])
    if not isinstance(name, (bool, int, float)) or isinstance(name, bool):
        return f"give it a name, e.g. name: {kind.lower()}-1"
    if pattern.fullmatch(str(name)):
        return f'write `name: "{name}"`, in quotes'
    meant = f"{kind.lower()}-{_label_like(name, '1')}"
    return f"give a name that starts with a letter, e.g. name: {meant}" if pattern.fullmatch(meant) else \
        f"give it a name, e.g. name: {kind.lower()}-1"


def _meta(doc: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """The object's namespace and labels, checked (its name is checked by _name)."""
    meta = shapes.mapping(doc.get("metadata"), "metadata", "metadata: {name: NAME}")
    example = f"labels: {{{DATAPLANE_MODE_LABEL}: Kmesh}}" if doc.get("kind") == "Namespace" else ""
    labels = shapes.labels(meta.get("labels"), "metadata.labels", example)
    annotations = shapes.mapping(meta.get("annotations"), "metadata.annotations",
                                 "annotations: {KEY: VALUE}")
    for key, value in annotations.items():
        shapes.text(value, f"metadata.annotations.{key}", f"{key}: VALUE")
    namespace = meta.get("namespace")
    if namespace in (None, ""):
        return DEFAULT_NAMESPACE, labels
    if not isinstance(namespace, str):
        raise UsageError(f"metadata.namespace is {_what(namespace)}, not a namespace name: give text, e.g. "
                         f"namespace: {DEFAULT_NAMESPACE}")
    return check_name("Namespace", namespace, "metadata.namespace"), labels


def _spec(doc: dict[str, Any], give: str, required: bool = True) -> dict[str, Any]:
    return shapes.mapping(doc.get("spec"), "spec", give, required)


def _parse_namespace(manifests: Manifests, doc: dict[str, Any], name: str) -> None:
    _, labels = _meta(doc)
    manifests.namespaces[name] = Namespace(name, labels)


_SERVICE_SPEC = "spec: {selector: {app: fortio}, ports: [{port: 80, targetPort: 8080}]}"


def _parse_service(manifests: Manifests, doc: dict[str, Any], name: str) -> None:
    namespace, labels = _meta(doc)
    spec = _spec(doc, _SERVICE_SPEC, required=False)
    kind = spec.get("type", "ClusterIP")
    if kind != "ClusterIP":
        raise UsageError(f"Service type {kind} is not supported in the sandbox (use ClusterIP)")
    if spec.get("clusterIP") == "None":  # Kubernetes' headless Service (YAML's null is ~, not None)
        raise UsageError("a headless Service (spec.clusterIP: None) is not supported in the sandbox: each Service "
                         "gets a virtual IP (remove spec.clusterIP)")
    if spec.get("clusterIP") not in (None, ""):
        raise UsageError("a fixed spec.clusterIP is not supported in the sandbox (remove it)")
    ports = _service_ports(spec.get("ports") or [])
    selector = shapes.labels(spec.get("selector"), "spec.selector", "selector: {app: fortio} (the pods' labels)")
    manifests.services.append(Service(name, namespace, labels, selector, ports))


def _service_ports(raw_ports: Any) -> tuple[ServicePort, ...]:
    """spec.ports, checked as the API server checks them (it refuses the same Service): a
    port twice would give the waypoint two listeners with one match, which Envoy rejects."""
    if not isinstance(raw_ports, list):
        raise UsageError(f"spec.ports is {_what(raw_ports)}, not a list of ports: give ports: [{{port: 80}}]")
    if not raw_ports:
        raise UsageError("a Service needs at least one port (spec.ports)")
    ports = tuple(_service_port(raw, f"spec.ports[{i}]") for i, raw in enumerate(raw_ports))
    seen_names: dict[str, int] = {}
    seen_ports: dict[tuple[int, str], int] = {}
    for i, port in enumerate(ports):
        where = f"spec.ports[{i}]"
        key = (port.port, port.protocol)
        if key in seen_ports:
            raise UsageError(f"{where}: port {port.port}/{port.protocol} is also spec.ports[{seen_ports[key]}] "
                             "(Kubernetes refuses a duplicate too): remove one or give it another port")
        if len(ports) > 1 and not port.name:
            raise UsageError(f"{where}.name is required when a Service has several ports (Kubernetes refuses it "
                             "too): name each port, e.g. name: http")
        if port.name in seen_names:
            raise UsageError(f"{where}.name {port.name!r} is also the name of spec.ports[{seen_names[port.name]}] "
                             "(Kubernetes refuses a duplicate too): give each port its own name")
        if port.name:
            seen_names[port.name] = i
        seen_ports[key] = i
    return ports


_IANA_SVC_NAME = re.compile(r"(?=.{1,15}$)(?=.*[a-z])[a-z0-9]+(-[a-z0-9]+)*")
_IANA_RULE = "1-15 lower-case letters, digits and '-', at least one letter"


def _service_port(raw: Any, where: str) -> ServicePort:
    if not isinstance(raw, dict):
        raise UsageError(f"{where} is {_what(raw)}, not a port: give {{port: 80, targetPort: 8080}}")
    if "port" not in raw:
        raise UsageError(f"{where}.port is required: add one, e.g. port: 80")
    port = _port_number(raw["port"], f"{where}.port", "80")
    name = raw.get("name", "")
    if name not in (None, ""):
        check_name("port", name, f"{where}.name")
    target = raw.get("targetPort", port)
    protocol = raw.get("protocol", "TCP")
    if protocol != "TCP":
        raise UsageError(f"{where}.protocol {protocol} is not supported in the sandbox (use TCP)")
    if isinstance(target, str) and not is_digits(target):
        if not _IANA_SVC_NAME.fullmatch(target):
            raise UsageError(f"{where}.targetPort {target!r} is neither a port number (1-65535) nor a port name "
                             f"({_IANA_RULE})")
        target_port: int | str = target
    else:
        target_port = _port_number(int(target) if isinstance(target, str) else target, f"{where}.targetPort",
                                   "8080")
    return ServicePort(str(name or ""), port, target_port, protocol)


def _port_number(value: Any, what: str, example: str = "8080") -> int:
    number = shapes.integer(value, what, example)
    if not 1 <= number <= 65535:
        raise UsageError(f"{what} {number!r} is not a port number (1-65535)")
    return number


_TEMPLATE = "template: {metadata: {labels: {app: fortio}}, spec: {containers: [{name: fortio, image: IMAGE}]}}"
_CONTAINER = "{name: fortio, image: IMAGE}"


def _parse_deployment(manifests: Manifests, doc: dict[str, Any], name: str) -> None:
    namespace, _ = _meta(doc)
    spec = _spec(doc, "spec: {selector: {matchLabels: {app: fortio}}, " + _TEMPLATE + "}")
    template = shapes.mapping(spec.get("template"), "spec.template", _TEMPLATE, required=True)
    template_meta = shapes.mapping(template.get("metadata"), "spec.template.metadata",
                                   "metadata: {labels: {app: fortio}}")
    pod_labels = shapes.labels(template_meta.get("labels"), "spec.template.metadata.labels")
    selector = shapes.mapping(spec.get("selector"), "spec.selector", "selector: {matchLabels: {app: fortio}}")
    match_labels = shapes.labels(selector.get("matchLabels"), "spec.selector.matchLabels")
    if not match_labels or any(pod_labels.get(k) != v for k, v in match_labels.items()):
        raise UsageError("spec.selector.matchLabels must be set and match the template's labels")
    replicas = shapes.integer(spec.get("replicas", 1), "spec.replicas", "1")
    if not 0 <= replicas <= MAX_REPLICAS:
        raise UsageError(f"spec.replicas {replicas!r} is out of the sandbox's range 0-{MAX_REPLICAS}"
                         + ("" if replicas > 0 else " (Kubernetes refuses a negative one too)")
                         + f": give e.g. replicas: {1 if replicas < 0 else MAX_REPLICAS}")
    pod_spec = shapes.mapping(template.get("spec"), "spec.template.spec",
                              f"spec: {{containers: [{_CONTAINER}]}}", required=True)
    if shapes.boolean(pod_spec.get("hostNetwork"), "spec.template.spec.hostNetwork"):
        raise UsageError("hostNetwork pods are not supported in the sandbox")
    for flag in ("automountServiceAccountToken", "shareProcessNamespace"):
        shapes.boolean(pod_spec.get(flag), f"spec.template.spec.{flag}")
    raw_containers = shapes.mappings(pod_spec.get("containers"), "spec.template.spec.containers",
                                     f"containers: [{_CONTAINER}]", _CONTAINER, required=True)
    containers = tuple(_container(c, f"spec.template.spec.containers[{i}]") for i, c in enumerate(raw_containers))
    if not containers:
        raise UsageError("a Deployment needs at least one container")
    _check_container_names(containers)
    account = pod_spec.get("serviceAccountName") or pod_spec.get("serviceAccount") or "default"
    account = check_name("ServiceAccount", account, "serviceAccountName")
    from kmeshctl.sandbox.containers import check_images  # (containers imports this module)

    check_images(containers)  # while the file is known: `-f FILE: Deployment NAME: image ...`
    manifests.deployments.append(Deployment(name, namespace, replicas, pod_labels, containers, account))


def _check_container_names(containers: tuple[Container, ...]) -> None:
    """As the API server: each container of a pod has its own name, and each port name is
    used once in a container (two containers of one name would also run one program twice,
    the second failing to bind its ports)."""
    seen: dict[str, int] = {}
    for index, container in enumerate(containers):
        where = f"spec.template.spec.containers[{index}]"
        if container.name in seen:
            raise UsageError(f"{where}.name {container.name} is also containers[{seen[container.name]}]'s "
                             "(Kubernetes refuses it too: Duplicate value); rename one")
        seen[container.name] = index
        names: dict[str, int] = {}
        for number, port in enumerate(container.ports):
            if port.name and port.name in names:
                raise UsageError(f"{where}.ports[{number}].name {port.name} is also ports[{names[port.name]}]'s "
                                 "(Kubernetes refuses it too: Duplicate value); rename one or remove it")
            names.setdefault(port.name, number)


_PULL_POLICIES = ("Always", "IfNotPresent", "Never")


def _container(raw: dict[str, Any], where: str) -> Container:
    if raw.get("name") in (None, ""):
        raise shapes.missing(f"{where}.name", "name: fortio")
    image = raw.get("image")
    if image in (None, ""):
        raise shapes.missing(f"{where}.image", "image: IMAGE (e.g. fortio/fortio:1.68.2)")
    raw_ports = shapes.mappings(raw.get("ports"), f"{where}.ports", "ports: [{containerPort: 8080}]",
                                "{containerPort: 8080}")
    policy = raw.get("imagePullPolicy")
    if policy is not None and policy not in _PULL_POLICIES:
        raise UsageError(f"{where}.imagePullPolicy is {_what(policy)}, not one of {', '.join(_PULL_POLICIES)} "
                         "(Kubernetes refuses it too): write e.g. imagePullPolicy: IfNotPresent")
    return Container(
        name=check_name("container", raw["name"], "container name"),
        image=shapes.text(image, f"{where}.image"),
        command=tuple(shapes.texts(raw.get("command"), f"{where}.command", "command: [PROGRAM, ARG]")),
        args=tuple(shapes.texts(raw.get("args"), f"{where}.args", "args: [ARG, ARG]")),
        ports=tuple(_container_port(p, f"{where}.ports[{i}]") for i, p in enumerate(raw_ports)),
    )


def _container_port(raw: dict[str, Any], where: str) -> ContainerPort:
    if "containerPort" not in raw:
        raise shapes.missing(f"{where}.containerPort", "containerPort: 8080")
    name = raw.get("name")
    if name not in (None, ""):
        if not isinstance(name, str) or not _IANA_SVC_NAME.fullmatch(name):
            raise UsageError(f"{where}.name {name!r} is not a valid port name ({_IANA_RULE}, as Kubernetes "
                             f"checks it); rename it, e.g. name: http")
    return ContainerPort(name or "", _port_number(raw["containerPort"], f"{where}.containerPort"))


_VS_HTTP_FIELDS = {"name", "match", "route"}
_VS_DEST_FIELDS = {"destination", "weight"}
_ROUTE = "{destination: {host: fortio, subset: v1}, weight: 90}"
_HTTP = f"http: [{{route: [{_ROUTE}]}}]"


def _parse_virtual_service(manifests: Manifests, doc: dict[str, Any], name: str) -> None:
    namespace, _ = _meta(doc)
    spec = _spec(doc, f"spec: {{hosts: [fortio], {_HTTP}}}")
    unsupported = set(spec) - {"hosts", "http", "gateways", "exportTo"}
    if unsupported:
        raise UsageError(f"spec.{sorted(map(str, unsupported))[0]} is not supported in the sandbox")
    gateways = shapes.texts(spec.get("gateways"), "spec.gateways", "gateways: [mesh]", "Istio")
    if gateways not in ([], ["mesh"]):
        raise UsageError("gateways other than 'mesh' are not supported in the sandbox")
    shapes.texts(spec.get("exportTo"), "spec.exportTo", "exportTo: ['*']", "Istio")
    hosts = shapes.texts(spec.get("hosts"), "spec.hosts", "hosts: [fortio]", "Istio")
    if not hosts:
        raise shapes.missing("spec.hosts", "hosts: [fortio] (the Services it routes)")
    raw_http = shapes.mappings(spec.get("http"), "spec.http", _HTTP, f"{{route: [{_ROUTE}]}}")
    http = tuple(_http_route(r, f"spec.http[{i}]") for i, r in enumerate(raw_http))
    if not http:
        raise UsageError("the sandbox needs at least one spec.http route")
    manifests.virtual_services.append(VirtualService(name, namespace, tuple(hosts), http))


def _http_route(raw: dict[str, Any], where: str) -> HttpRoute:
    unsupported = set(raw) - _VS_HTTP_FIELDS
    if unsupported:
        raise UsageError(f"{where}.{sorted(map(str, unsupported))[0]} is not supported in the sandbox")
    if raw.get("name") is not None:
        shapes.text(raw["name"], f"{where}.name", who="Istio")
    raw_matches = shapes.mappings(raw.get("match"), f"{where}.match", "match: [{uri: {prefix: /}}]",
                                  "{uri: {prefix: /}}")
    matches = tuple(_uri_match(m, f"{where}.match[{i}]") for i, m in enumerate(raw_matches))
    raw_route = shapes.mappings(raw.get("route"), f"{where}.route", f"route: [{_ROUTE}]", _ROUTE, required=True)
    destinations = tuple(_destination(d, f"{where}.route[{i}]") for i, d in enumerate(raw_route))
    if not destinations:
        raise UsageError("an http route needs at least one destination")
    total = sum(d.weight for d in destinations)
    unweighted = sum(1 for r in raw_route if "weight" not in r)
    if len(destinations) > 1 and unweighted:  # Istio gives 100 to a lone destination only
        which = "without weights" if unweighted == len(destinations) else f"{unweighted} of them without a weight"
        raise UsageError(f"route to {destinations[0].host} has {len(destinations)} destinations {which}; "
                         "give weights that add up to 100")
    if len(destinations) > 1 and total != 100:
        raise UsageError(f"route weights {'/'.join(str(d.weight) for d in destinations)} add up to {total}; "
                         "make them add up to 100")
    return HttpRoute(matches, destinations)


def _uri_match(raw: dict[str, Any], where: str) -> UriMatch:
    uri = raw.get("uri")
    if set(raw) != {"uri"} or not isinstance(uri, dict) or len(uri) != 1 or next(iter(uri)) not in ("prefix", "exact"):
        raise UsageError("only `match: [{uri: {prefix|exact: ...}}]` is supported in the sandbox")
    kind, value = next(iter(uri.items()))
    return UriMatch(kind, shapes.text(value, f"{where}.uri.{kind}", f"{kind}: /PATH", "Istio"))


def _destination(raw: dict[str, Any], where: str) -> Destination:
    unsupported = set(raw) - _VS_DEST_FIELDS
    if unsupported:
        raise UsageError(f"{where}.{sorted(map(str, unsupported))[0]} is not supported in the sandbox")
    dest = shapes.mapping(raw.get("destination"), f"{where}.destination", "destination: {host: fortio, subset: v1}",
                          required=True)
    host = dest.get("host")
    if host in (None, ""):
        raise shapes.missing(f"{where}.destination.host", "host: fortio")
    host = shapes.text(host, f"{where}.destination.host", who="Istio")
    subset = shapes.text(dest.get("subset", ""), f"{where}.destination.subset", who="Istio")
    port = shapes.mapping(dest.get("port"), f"{where}.destination.port", "port: {number: 80}").get("number")
    weight = shapes.integer(raw.get("weight", 100), f"{where}.weight", "90")
    if not 0 <= weight <= 100:
        raise UsageError(f"{where}.weight {weight!r} must be an integer 0-100")
    number = None if port is None else _port_number(port, f"{where}.destination.port.number", "80")
    return Destination(host, subset, number, weight)


_SUBSET = "{name: v1, labels: {version: v1}}"


def _parse_destination_rule(manifests: Manifests, doc: dict[str, Any], name: str) -> None:
    namespace, _ = _meta(doc)
    spec = _spec(doc, f"spec: {{host: fortio, subsets: [{_SUBSET}]}}")
    unsupported = set(spec) - {"host", "subsets", "exportTo"}
    if unsupported:
        raise UsageError(f"spec.{sorted(map(str, unsupported))[0]} is not supported in the sandbox")
    shapes.texts(spec.get("exportTo"), "spec.exportTo", "exportTo: ['*']", "Istio")
    if spec.get("host") in (None, ""):
        raise shapes.missing("spec.host", "host: fortio (the Service)")
    host = shapes.text(spec["host"], "spec.host", who="Istio")
    raw = shapes.mappings(spec.get("subsets"), "spec.subsets", f"subsets: [{_SUBSET}]", _SUBSET)
    subsets = tuple(_subset(s, f"spec.subsets[{i}]") for i, s in enumerate(raw))
    _check_subset_names(subsets)
    manifests.destination_rules.append(DestinationRule(name, namespace, host, subsets))


def _check_subset_names(subsets: tuple[Subset, ...]) -> None:
    """Istio refuses two subsets of one name (its validation: `duplicate subset names`);
    read on, the last would win and a route to the first would reach the other's pods."""
    seen: dict[str, int] = {}
    for index, subset in enumerate(subsets):
        if subset.name in seen:
            raise UsageError(f"spec.subsets[{index}].name {subset.name} is also spec.subsets[{seen[subset.name]}]'s "
                             "(Istio refuses it too): rename or remove one")
        seen[subset.name] = index


def _subset(raw: dict[str, Any], where: str) -> Subset:
    if raw.get("name") in (None, ""):
        raise shapes.missing(f"{where}.name", "name: v1")
    labels = shapes.labels(raw.get("labels"), f"{where}.labels", "labels: {version: v1}")
    return Subset(_subset_name(raw["name"], labels, f"{where}.name"), labels)


def _subset_name(name: Any, labels: dict[str, str], where: str) -> str:
    """A subset's name as Istio checks it: a DNS-1123 label (it becomes part of Envoy's
    cluster names, `outbound|80|v1|fortio...`)."""
    if isinstance(name, str) and len(name) <= 63 and _DNS1123_LABEL.fullmatch(name):
        return name
    example = _subset_example(name, labels)
    if isinstance(name, (int, float)) and not isinstance(name, bool):
        quoted = f'write `name: "{name}"`, in quotes, or ' if _DNS1123_LABEL.fullmatch(str(name)) else ""
        raise UsageError(f"{where} is {shapes.what(name)}, not text (Istio refuses it too): {quoted}"
                         f"give a name, e.g. name: {example}")
    raise UsageError(f"subset name {name!r} is not a DNS-1123 label (Istio refuses it too: lower-case letters, "
                     "digits and '-', starting and ending with an alphanumeric, at most 63 characters); "
                     f"rename it, e.g. {example}")


def _subset_example(name: Any, labels: dict[str, str]) -> str:
    """A valid name for a refused subset name: the name made one (`Blue` -> blue), else
    one from its labels (`version: v1` -> v1), else v1."""
    meant = _label_like(name, "") if isinstance(name, str) else ""
    if meant and meant != name and not meant[0].isdigit():
        return meant
    for value in [labels.get("version", ""), *labels.values()]:
        if (from_label := _label_like(value, "")) and _DNS1123_LABEL.fullmatch(from_label) and from_label != name:
            return from_label
    return "v1"


def _label_like(name: Any, default: str = "v1") -> str:
    """``name`` made a DNS-1123 label, for the example of an error (`Blue` -> blue)."""
    text = re.sub(r"[^a-z0-9-]+", "-", str(name).lower()).strip("-")[:63].strip("-")
    return text or default


def _parse_service_account(manifests: Manifests, doc: dict[str, Any], name: str) -> None:
    _meta(doc)  # the pods name it (serviceAccountName); nothing else to keep
    shapes.boolean(doc.get("automountServiceAccountToken"), "automountServiceAccountToken")


def _parse_authorization_policy(manifests: Manifests, doc: dict[str, Any], name: str) -> None:
    namespace, _ = _meta(doc)
    authz_shapes.check(_spec(doc, "spec: {action: DENY, rules: [{from: [{source: {namespaces: [other]}}]}]}",
                             required=False))
    manifests.authorization_policies.append(authz_mod.parse(doc, name, namespace))

_PARSERS = {
    "Namespace": _parse_namespace,
    "Service": _parse_service,
    "Deployment": _parse_deployment,
    "VirtualService": _parse_virtual_service,
    "DestinationRule": _parse_destination_rule,
    "ServiceAccount": _parse_service_account,
    "AuthorizationPolicy": _parse_authorization_policy,
}


# ---------------------------------------------------------------- cross-object checks


def validate(manifests: Manifests) -> None:
    """Checks that need every object: duplicates, and routes naming real Services/subsets."""
    _check_unique("Service", [(s.namespace, s.name) for s in manifests.services])
    _check_unique("Deployment", [(d.namespace, d.name) for d in manifests.deployments])
    _check_unique("VirtualService", [(v.namespace, v.name) for v in manifests.virtual_services])
    _check_unique("DestinationRule", [(d.namespace, d.name) for d in manifests.destination_rules])
    _check_unique("AuthorizationPolicy", [(p.namespace, p.name) for p in manifests.authorization_policies])
    for rule in manifests.destination_rules:
        if manifests.service_for_host(rule.host, rule.namespace) is None:
            raise UsageError(f"{manifests.source('DestinationRule', rule.namespace, rule.name)}"
                             f"DestinationRule {rule.name}: host {rule.host}: "
                             f"{_no_service(rule.host, rule.namespace, manifests)}; add the Service or fix the host")
    _check_one_per_service(manifests, "DestinationRule",
                           [(r.namespace, r.name, r.host) for r in manifests.destination_rules],
                           "Istio merges two rules for one host in an order it does not promise; keep one, "
                           "with every subset")
    for vs in manifests.virtual_services:
        _check_virtual_service(manifests, vs)
    _check_one_per_service(manifests, "VirtualService",
                           [(v.namespace, v.name, h) for v in manifests.virtual_services for h in v.hosts],
                           "Istio uses one of them for the mesh and does not promise which; keep one, with "
                           "every route")


def _check_one_per_service(manifests: Manifests, kind: str, hosts: list[tuple[str, str, str]], why: str) -> None:
    """Refuses a second ``kind`` (its namespace, name, a host) for a Service one already has."""
    owner: dict[tuple[str, str], tuple[str, str]] = {}
    for namespace, name, host in hosts:
        service = manifests.service_for_host(host, namespace)
        if service is None:
            continue
        first = owner.setdefault((service.namespace, service.name), (namespace, name))
        if first != (namespace, name):
            first_file = manifests.source(kind, *first).removesuffix(": ")
            also = f" (in {first_file})" if first_file else ""
            raise UsageError(f"{manifests.source(kind, namespace, name)}{kind} {name}: host {host} is also the host "
                             f"of {kind} {first[0]}/{first[1]}{also}, both for Service {service.namespace}/"
                             f"{service.name} ({why})")


def warnings(manifests: Manifests, sandbox: str | None = None) -> list[str]:
    """What Kubernetes accepts but leaves a Service or subset without a pod to send to (the
    demo then sees 503s), or two subsets the demo cannot tell apart: one line each, said by
    `up` and `status`; never a refusal. ``sandbox``: the sandbox's name, for the demo line
    that leaves a subset without pods out."""
    found: list[str] = []
    for service in manifests.services:
        found += _service_warnings(manifests, service)
    for rule in manifests.destination_rules:
        service = manifests.service_for_host(rule.host, rule.namespace)
        if service is not None:
            found += [w for subset in rule.subsets if (w := _subset_warning(manifests, rule, service, subset, sandbox))]
            found += _same_server_warnings(manifests, rule, service)
    return found


def _selected(manifests: Manifests, namespace: str, *selectors: dict[str, str]) -> list[Deployment]:
    """The Deployments of ``namespace`` whose pods every selector selects."""
    return [d for d in manifests.deployments if d.namespace == namespace
            and all(d.pod_labels.get(k) == v for sel in selectors for k, v in sel.items())]


def _no_pod(deployments: list[Deployment]) -> str:
    """`selects no pod`, or why the pods selected do not run (replicas: 0)."""
    if not deployments:
        return "selects no pod"
    names = ", ".join(f"{d.namespace}/{d.name}" for d in deployments)
    return f"selects no running pod (replicas: 0 in Deployment {names})"


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "no labels"


def _service_warnings(manifests: Manifests, service: Service) -> list[str]:
    if not service.selector:  # a Service without a selector gets its endpoints by hand: none here
        return []
    selected = _selected(manifests, service.namespace, service.selector)
    where = f"Service {service.namespace}/{service.name}"
    if not any(d.replicas for d in selected):
        fix = (f"give Deployment {', '.join(f'{d.namespace}/{d.name}' for d in selected)} replicas: 1 (or more)"
               if selected else "fix the selector or the pods' labels")
        return [f"{where} (selector {_labels_text(service.selector)}) {_no_pod(selected)}: its traffic gets no "
                f"answer; {fix}"]
    found = []
    for port in service.ports:
        if isinstance(port.target_port, int):
            continue
        lacking = [d for d in selected if not any(c.name == port.target_port
                                                   for ct in d.containers for c in ct.ports)]
        if len(lacking) == len(selected):
            whose = "of its pods"
        elif lacking:
            whose = f"in Deployment {', '.join(f'{d.namespace}/{d.name}' for d in lacking)} (those pods get none)"
        else:
            continue
        found.append(f"{where} targetPort {port.target_port} names no container port {whose}; name a "
                     f"containerPort {port.target_port} or give the port number")
    return found


def _subset_warning(manifests: Manifests, rule: DestinationRule, service: Service, subset: Subset,
                    sandbox: str | None = None) -> str:
    selected = _selected(manifests, service.namespace, service.selector, subset.labels) if service.selector else []
    if any(d.replicas for d in selected):
        return ""
    where = (f"DestinationRule {rule.namespace}/{rule.name} subset {subset.name} ({_labels_text(subset.labels)}) "
             f"{_no_pod(selected)} of Service {service.namespace}/{service.name}: requests routed to it fail "
             "(HTTP 503)")
    if not selected:
        return f"{where}; fix the subset's labels or the pods'"
    names = ", ".join(f"{d.namespace}/{d.name}" for d in selected)
    line = _demo_without(manifests, service, subset, sandbox) if sandbox else ""
    meanwhile = f"; until then the demo can send it nothing: `{line}`" if line else ""
    return f"{where}; give Deployment {names} replicas: 1 (or more){meanwhile}"


def _demo_without(manifests: Manifests, service: Service, subset: Subset, sandbox: str) -> str:
    """The demo on ``sandbox`` with --weights giving ``subset`` (no pod) nothing, when the
    demo measures a route to it with a weight > 0 ('' otherwise: a bare demo runs as it is)."""
    from kmeshctl import demo  # (demo imports this module)

    try:
        subject = demo.demo_subject(manifests, namespace=service.namespace)
    except UsageError:
        return ""
    vs = subject.virtual_service
    if manifests.service_for_host(vs.hosts[0], vs.namespace) != service:
        return ""  # the demo measures another Service
    weights = list(subject.default_weights)
    if not any(v.subset == subset.name and w for v, w in zip(subject.versions, weights)):
        return ""
    fed = demo.without_podless(subject, [weights])
    if not fed:
        return ""
    namespace = f" -n {service.namespace}" if service.namespace != DEFAULT_NAMESPACE else ""
    return (f"kmeshctl demo traffic-shift --sandbox {sandbox}{namespace} "
            f"--weights {','.join('/'.join(map(str, w)) for w in fed)}")


SERVER_HEADER_PARAM = "header=server:"  # fortio's `-echo-server-default-params header=server:N`


def server_header(deployments: list[Deployment]) -> str | None:
    """The Server header the pods of ``deployments`` answer with (fortio's
    `-echo-server-default-params header=server:N`), None when none sets one."""
    for deployment in deployments:
        for container in deployment.containers:
            for arg in container.args:
                for param in arg.split("&"):
                    if param.lower().startswith(SERVER_HEADER_PARAM):
                        return param.split(":", 1)[1]
    return None


def _same_server_warnings(manifests: Manifests, rule: DestinationRule, service: Service) -> list[str]:
    """Subsets of ``rule`` whose pods answer with the same Server header: the demo, which tells
    subsets apart by it, refuses to measure them."""
    if not service.selector:
        return []
    seen: dict[str, Subset] = {}
    found = []
    unlabelled = next((s for s in rule.subsets if not s.labels), None)
    if unlabelled is not None and len(rule.subsets) > 1:  # the cause of any header shared with it
        return [f"DestinationRule {rule.namespace}/{rule.name} subset {unlabelled.name} has no labels: it selects "
                f"every pod of Service {service.namespace}/{service.name}, the other subsets' too; give it the "
                f"labels of its own pods, e.g. labels: {{version: {unlabelled.name}}}"]
    for subset in rule.subsets:
        header = server_header(_selected(manifests, service.namespace, service.selector, subset.labels))
        if header is None:
            continue
        first = seen.setdefault(header, subset)
        if first is not subset and first.name != subset.name:
            found.append(f"DestinationRule {rule.namespace}/{rule.name} subsets {first.name} and {subset.name} of "
                         f"Service {service.namespace}/{service.name} send the same Server header ({header}): "
                         "`kmeshctl demo traffic-shift` cannot tell their responses apart; give each version's "
                         "pods their own `-echo-server-default-params header=server:N`")
    return found


def _check_unique(kind: str, keys: list[tuple[str, str]]) -> None:
    seen: set[tuple[str, str]] = set()
    for key in keys:
        if key in seen:
            raise UsageError(f"{kind} {key[0]}/{key[1]} is defined twice: keep one")
        seen.add(key)


def _check_virtual_service(manifests: Manifests, vs: VirtualService) -> None:
    where = f"{manifests.source('VirtualService', vs.namespace, vs.name)}VirtualService {vs.name}"
    for host in vs.hosts:
        if manifests.service_for_host(host, vs.namespace) is None:
            raise UsageError(f"{where}: host {host}: {_no_service(host, vs.namespace, manifests)}; add the "
                             "Service or fix the host")
    for route in vs.http:
        for dest in route.destinations:
            service = manifests.service_for_host(dest.host, vs.namespace)
            if service is None:
                raise UsageError(f"{where}: destination host {dest.host}: "
                                 f"{_no_service(dest.host, vs.namespace, manifests)}; add the Service or fix the host")
            names = subset_names(manifests, service)
            if dest.subset and dest.subset not in names:
                meant = _closest(dest.subset, names)
                fix = f"did you mean subset: {meant}? (or add {dest.subset} to the DestinationRule)" if meant \
                    else "add it"
                raise UsageError(f"{where}: subset {dest.subset} of {dest.host} "
                                 f"is not defined by a DestinationRule; {fix}")


def _closest(word: str, known: list[str]) -> str:
    """The one of ``known`` ``word`` most likely means (a case slip, a typo), or ''."""
    same_case = [k for k in known if k.lower() == word.lower()]
    if same_case:
        return same_case[0]
    close = difflib.get_close_matches(word.lower(), known, n=1, cutoff=0.7)
    return close[0] if close else ""


def _no_service(host: str, namespace: str, manifests: Manifests | None = None) -> str:
    """`no Service fortio in namespace other in the files`: where a host was looked for
    (a short name is relative to the object's namespace, as in Istio), and the Service of
    that namespace it likely means (`did you mean fortio?`)."""
    looked_in, name = resolve_host(host, namespace)
    said = f"no Service {name} in namespace {looked_in} in the files"
    known = [s.name for s in manifests.services if s.namespace == looked_in] if manifests else []
    meant = _closest(name, known)
    return f"{said} (did you mean {meant}?)" if meant else said


def subset_names(manifests: Manifests, service: Service) -> list[str]:
    rule = manifests.destination_rule_for(service)
    return [s.name for s in rule.subsets] if rule else []


def with_weights(vs: VirtualService, weights: list[int], route: int = 0) -> VirtualService:
    """The VirtualService with the weights of its http route ``route`` (default the first)
    replaced (in order)."""
    first = vs.http[route]
    if len(weights) != len(first.destinations):
        raise UsageError(f"VirtualService {vs.name} has {len(first.destinations)} destinations; "
                         f"give {len(first.destinations)} weights, not {len(weights)}")
    if sum(weights) != 100 or any(w < 0 for w in weights):
        raise UsageError(f"weights {'/'.join(map(str, weights))} must be >= 0 and add up to 100")
    destinations = tuple(Destination(d.host, d.subset, d.port, w)
                         for d, w in zip(first.destinations, weights))
    return VirtualService(vs.name, vs.namespace, vs.hosts,
                          (*vs.http[:route], HttpRoute(first.matches, destinations), *vs.http[route + 1:]))
