"""Strict validation of manifests before anything is sent to a cluster.

Kubernetes kinds are checked against the OpenAPI schemas kubernetes-validate ships for
the chosen version, in its strict flavour (unknown fields are errors). Custom kinds
(Istio's EnvoyFilter, ...) are checked against the openAPIV3Schema of their CRD; those
schemas do not forbid unknown fields, so unknown fields are found the way the API
server's strict field validation finds them: a field is unknown unless the schema
declares it, allows it through `additionalProperties`, or preserves unknown fields.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import yaml

if TYPE_CHECKING:
    import jsonschema
    from referencing import Registry

from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.params import bad_yaml

# The API server (and `kmeshctl precheck`) require at least this version.
MIN_KUBERNETES_VERSION = "1.26"

_OBJECT_META_REF = "https://kubernetes.io/api/_definitions.json#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_IMPLICIT_ROOT_FIELDS = ("apiVersion", "kind", "metadata")

# libyaml's loader when present: CRD files are large (about 1 MB for Istio's).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

GVK = tuple[str, str, str]  # (group, version, kind)


class ValidationError(UsageError):
    """One or more objects are invalid; the message lists every problem."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        plural = "s" if len(problems) != 1 else ""
        super().__init__(
            f"{len(problems)} problem{plural} in the manifests: " + "; ".join(problems)
        )


# --- Kubernetes versions and schemas ------------------------------------------------


def _kubernetes_validate() -> Any:
    """kubernetes-validate, an extra (`kmeshctl[cluster]`): the node image does without it."""
    try:
        import kubernetes_validate
    except ImportError as err:
        raise KmeshctlError("validating manifests needs kubernetes-validate, which is not installed: "
                            "pip install 'kmeshctl[cluster]'") from err
    return kubernetes_validate


@cache
def supported_kubernetes_versions() -> tuple[str, ...]:
    """MAJOR.MINOR versions with a schema in kubernetes-validate, from MIN_KUBERNETES_VERSION."""
    shipped = (_major_minor(v) for v in _kubernetes_validate().utils.all_versions())
    usable = {v for v in shipped if _version_key(v) >= _version_key(MIN_KUBERNETES_VERSION)}
    return tuple(sorted(usable, key=_version_key))


def _version_key(major_minor: str) -> tuple[int, int]:
    major, minor = major_minor.split(".")
    return int(major), int(minor)


def _major_minor(version: str) -> str:
    major, minor = version.split(".")[:2]
    return f"{major}.{minor}"


def _schema_dir(kubernetes_version: str) -> Any:
    from kmeshctl.params import check_kubernetes_version, normalize_kubernetes_version

    check_kubernetes_version(kubernetes_version)
    version = normalize_kubernetes_version(kubernetes_version)
    root = resources.files(_kubernetes_validate()) / "kubernetes-json-schema"
    return root / f"v{version}.0-local-strict"


@cache
def _kubernetes_registry(kubernetes_version: str) -> Registry:
    from referencing import Registry, Resource

    definitions = json.loads((_schema_dir(kubernetes_version) / "_definitions.json").read_text())
    return Resource.from_contents(definitions) @ Registry()


@cache
def _kubernetes_schema(kubernetes_version: str, api_version: str, kind: str) -> dict | None:
    # kubernetes-validate names files <kind>-<group prefix>-<version>.json,
    # e.g. rbac.authorization.k8s.io/v1 ClusterRole -> clusterrole-rbac-v1.json.
    group_version = re.sub(r"^([^./]*)(?:\.[^/]*)?/", r"\1-", api_version)
    path = _schema_dir(kubernetes_version) / f"{kind.lower()}-{group_version}.json"
    if not path.is_file():
        return None
    schema = json.loads(path.read_text())
    gvks = schema.get("x-kubernetes-group-version-kind", [])
    group, _, version = api_version.rpartition("/")
    if not any((g["group"], g["version"], g["kind"]) == (group, version, kind) for g in gvks):
        return None  # same file name, another group (e.g. a CRD group named like a built-in)
    return schema


def is_kubernetes_kind(obj: dict, kubernetes_version: str) -> bool:
    """True when the kind is built into Kubernetes (not defined by a CRD)."""
    return _kubernetes_schema(kubernetes_version, obj.get("apiVersion", ""), obj.get("kind", "")) is not None


def custom_objects(objs: list[dict], kubernetes_version: str) -> list[dict]:
    """The objects of kinds a CRD defines (Istio's)."""
    return [o for o in objs if not is_kubernetes_kind(o, kubernetes_version)]


# --- CRD schemas --------------------------------------------------------------------


@dataclass(frozen=True)
class CrdVersion:
    schema: dict
    served: bool
    source: str = ""  # where the CRD came from when the user gave it (`--crd-file crds.yaml`), for messages


class CrdSchemas:
    """The openAPIV3Schema of each (group, version, kind) of a set of CRDs."""

    def __init__(self, versions: dict[GVK, CrdVersion]) -> None:
        self._versions = versions

    @classmethod
    def from_crd_objects(cls, crds: list[dict]) -> "CrdSchemas":
        """CRDs as the API serves them (JSON dicts with camelCase keys, e.g. from
        ApiClient.sanitize_for_serialization or a raw list), not snake_case model dicts."""
        versions: dict[GVK, CrdVersion] = {}
        for crd in crds:
            versions.update(_crd_versions(crd))
        return cls(versions)

    @classmethod
    def from_files(cls, paths: list[Path]) -> "CrdSchemas":
        """YAML files (multi-document, or a List) holding CustomResourceDefinitions."""
        versions: dict[GVK, CrdVersion] = {}
        for path in paths:
            found = [doc for doc in _load_yaml_documents(path) if doc.get("kind") == "CustomResourceDefinition"]
            if not found:
                raise UsageError(f"--crd-file {path}: holds no CustomResourceDefinition; pass the Istio CRDs file")
            for crd in found:
                _check_crd_shape(path, crd)
            for crd in found:
                versions.update(_crd_versions(crd, f"--crd-file {path}"))
        return cls(versions)

    def get(self, gvk: GVK) -> CrdVersion | None:
        return self._versions.get(gvk)

    def kinds(self) -> list[GVK]:
        return sorted(self._versions)


def crd_schemas_from_files(paths: list[Path] | None) -> CrdSchemas | None:
    """The schemas of --crd-file; None when none is given (the cluster's own CRDs are
    used then, or offline the custom kinds go without a schema)."""
    return CrdSchemas.from_files(paths) if paths else None


def _check_crd_shape(path: Path, crd: dict) -> None:
    """UsageError naming the file and the field when a CRD of --crd-file is malformed (a
    hand-edited or truncated file), before anything reads its fields."""
    name = (crd.get("metadata") or {}).get("name", "?") if isinstance(crd.get("metadata"), dict) else "?"

    def bad(field: str, want: str) -> UsageError:
        return UsageError(f"--crd-file {path}: CustomResourceDefinition {name}: {field} is not {want}; "
                          "pass a valid CRD file (e.g. Istio's crd-all.gen.yaml)")

    spec = crd.get("spec", {})
    if not isinstance(spec, dict):
        raise bad("spec", "a mapping")
    if not isinstance(spec.get("names", {}), dict):
        raise bad("spec.names", "a mapping")
    versions = spec.get("versions", [])
    if not isinstance(versions, list):
        raise bad("spec.versions", "a list")
    for i, version in enumerate(versions):
        where = f"spec.versions[{i}]"
        if not isinstance(version, dict):
            raise bad(where, "a mapping")
        if not isinstance(version.get("name"), str):
            raise bad(f"{where}.name", "a string")
        schema = version.get("schema", {})
        if not isinstance(schema, dict):
            raise bad(f"{where}.schema", "a mapping")
        openapi = schema.get("openAPIV3Schema")
        if openapi is None:
            continue
        if not isinstance(openapi, dict):
            raise bad(f"{where}.schema.openAPIV3Schema", "a mapping")
        import jsonschema  # when used: the node agent shares the CLI's process

        try:
            jsonschema.Draft4Validator.check_schema(openapi)
        except jsonschema.SchemaError as err:
            at = ".".join(str(p) for p in err.absolute_path) or "(root)"
            raise UsageError(f"--crd-file {path}: CustomResourceDefinition {name}: {where}.schema.openAPIV3Schema "
                             f"at {at} is not a valid schema ({_one_line(err.message)}); pass a valid CRD "
                             "file") from err


def _crd_versions(crd: dict, source: str = "") -> dict[GVK, CrdVersion]:
    spec = crd.get("spec", {})
    group, kind = spec.get("group"), spec.get("names", {}).get("kind")
    found: dict[GVK, CrdVersion] = {}
    for version in spec.get("versions", []):
        if "open_apiv3_schema" in version.get("schema", {}):
            raise KmeshctlError("CRDs must be given as API JSON (camelCase keys), not as client model dicts")
        schema = version.get("schema", {}).get("openAPIV3Schema")
        if group and kind and schema is not None:
            found[(group, version["name"], kind)] = CrdVersion(schema, bool(version.get("served", False)), source)
    return found


def _load_yaml_documents(path: Path) -> Iterator[dict]:
    try:
        text = Path(path).read_text(encoding="utf-8")
        docs = list(yaml.load_all(text, Loader=_YAML_LOADER))
    except UnicodeDecodeError as err:
        raise UsageError(f"--crd-file {path}: not UTF-8 text (byte {err.start}); give a YAML file") from err
    except OSError as err:
        raise UsageError(f"--crd-file {path}: cannot read ({err.strerror}); give an existing file") from err
    except yaml.YAMLError as err:
        raise bad_yaml("--crd-file", path, err) from err
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind", "").endswith("List"):
            yield from (item for item in doc.get("items", []) if isinstance(item, dict))
        elif isinstance(doc, dict):
            yield doc


# --- validation ---------------------------------------------------------------------


def validate_manifests(objs: list[dict], kubernetes_version: str, crds: CrdSchemas | None) -> None:
    """Raise ValidationError listing every problem as "Kind/name: path: message".

    With `crds` None, custom kinds are not schema-checked (the caller says so); with
    schemas given, a custom kind whose CRD version is not among them is an error.
    """
    _schema_dir(kubernetes_version)  # unsupported version: UsageError before anything else
    problems: list[str] = []
    for obj in objs:
        problems.extend(f"{_object_ref(obj)}: {p}" for p in _object_problems(obj, kubernetes_version, crds))
    if problems:
        raise ValidationError(problems)


def validate_offline(objs: list[dict], kubernetes_version: str, crds: CrdSchemas | None) -> list[str]:
    """validate_manifests without a cluster; returns the custom kinds that went unchecked
    because no CRD schemas were given (empty when `crds` is given)."""
    validate_manifests(objs, kubernetes_version, crds)
    if crds is not None:
        return []
    return sorted({o["kind"] for o in custom_objects(objs, kubernetes_version)})


def _object_problems(obj: dict, kubernetes_version: str, crds: CrdSchemas | None) -> Iterator[str]:
    if not isinstance(obj.get("apiVersion"), str) or not isinstance(obj.get("kind"), str):
        yield "(root): apiVersion and kind are required strings"
        return
    schema = _kubernetes_schema(kubernetes_version, obj["apiVersion"], obj["kind"])
    if schema is not None:
        yield from _schema_problems(obj, schema, _kubernetes_registry(kubernetes_version))
    elif crds is not None:
        yield from _custom_resource_problems(obj, kubernetes_version, crds)


def _custom_resource_problems(obj: dict, kubernetes_version: str, crds: CrdSchemas) -> Iterator[str]:
    group, _, version = obj["apiVersion"].rpartition("/")
    crd_version = crds.get((group, version, obj["kind"]))
    if crd_version is None or not crd_version.served:
        yield (
            f"(root): no served CRD for {obj['kind']} in {obj['apiVersion']}; "
            "install the Istio CRDs (or give the CRD file that defines it)"
        )
        return
    meta = obj.get("metadata", {})
    yield from _schema_problems(
        meta, {"$ref": _OBJECT_META_REF}, _kubernetes_registry(kubernetes_version), prefix="metadata"
    )
    body = {k: v for k, v in obj.items() if k not in _IMPLICIT_ROOT_FIELDS}
    # a value the user's own CRD file refuses: maybe the file is not the cluster's (an edited or older copy)
    note = f" (the CRD schema of {crd_version.source})" if crd_version.source else ""
    for problem in _schema_problems(body, _structural_schema(crd_version.schema), None, draft4=True):
        yield problem + note
    yield from _unknown_fields(body, crd_version.schema, "")


def _structural_schema(schema: dict) -> dict:
    # apiVersion/kind/metadata are checked separately; drop them so they are not checked twice.
    props = {k: v for k, v in schema.get("properties", {}).items() if k not in _IMPLICIT_ROOT_FIELDS}
    required = [r for r in schema.get("required", []) if r not in _IMPLICIT_ROOT_FIELDS]
    return {**schema, "properties": props, "required": required}


def _schema_problems(
    instance: Any,
    schema: dict,
    registry: Registry | None,
    prefix: str = "",
    draft4: bool = False,
) -> Iterator[str]:
    import jsonschema

    validator = jsonschema.Draft4Validator if draft4 else jsonschema.Draft202012Validator
    kwargs = {"registry": registry} if registry is not None else {}
    checker = validator(schema, **kwargs)
    for error in sorted(checker.iter_errors(instance), key=_path_sort_key):
        yield f"{_json_path(prefix, error.absolute_path)}: {_error_message(error)}"


def _path_sort_key(error: jsonschema.ValidationError) -> list[tuple[int, int, str]]:
    # Document order: list indexes compare as numbers (volumes[9] before volumes[10]).
    return [(0, part, "") if isinstance(part, int) else (1, 0, str(part)) for part in error.absolute_path]


def _error_message(error: jsonschema.ValidationError) -> str:
    if error.validator == "additionalProperties" and error.validator_value is False and isinstance(error.instance, dict):
        declared = error.schema.get("properties", {})
        unknown = ", ".join(repr(k) for k in error.instance if k not in declared)
        return f"unknown field {unknown}"
    described = _described(error.instance)
    if described is None:
        return _one_line(error.message)
    if error.validator == "type":  # `an object, not of type string`
        types = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        return f"{described}, not of type {' or '.join(str(t) for t in types)}"
    # jsonschema's messages start with the value's repr: an object's or a list's is no message
    return _one_line(described + error.message[len(repr(error.instance)):]) \
        if error.message.startswith(repr(error.instance)) else _one_line(error.message)


def _described(value: Any) -> str | None:
    """What an object or a list is called in a message (never its repr, which may be the
    whole spec); None for a scalar (shown as jsonschema quotes it)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return None


def _unknown_fields(instance: Any, schema: dict, path: str) -> Iterator[str]:
    """Fields the structural schema does not declare (strict field validation)."""
    if schema.get("x-kubernetes-preserve-unknown-fields") and not schema.get("properties"):
        return
    # a value of another type than declared is reported as such: its fields are not also "unknown"
    if isinstance(instance, dict) and schema.get("type", "object") == "object":
        yield from _unknown_object_fields(instance, schema, path)
    elif isinstance(instance, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(instance):
            yield from _unknown_fields(item, schema["items"], f"{path}[{index}]")


def _unknown_object_fields(instance: dict, schema: dict, path: str) -> Iterator[str]:
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    preserve = schema.get("x-kubernetes-preserve-unknown-fields", False)
    embedded = schema.get("x-kubernetes-embedded-resource", False)
    for key, value in instance.items():
        child = f"{path}.{key}" if path else key
        if embedded and key in _IMPLICIT_ROOT_FIELDS and key not in properties:
            continue  # an embedded object carries apiVersion/kind/metadata implicitly
        if key in properties:
            yield from _unknown_fields(value, properties[key], child)
        elif isinstance(extra, dict):
            yield from _unknown_fields(value, extra, child)
        elif not (extra or preserve):
            yield f"{child}: unknown field {key!r}"


def _json_path(prefix: str, path: Any) -> str:
    text = prefix
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(root)"


def _object_ref(obj: dict) -> str:
    name = obj.get("metadata", {}).get("name", "<unnamed>") if isinstance(obj.get("metadata"), dict) else "<unnamed>"
    return f"{obj.get('kind', '<no kind>')}/{name}"


def _one_line(text: str) -> str:
    return " ".join(text.split())
