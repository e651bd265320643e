"""Field paths of objects: what a field manager owns (server-side apply), the
`managedFields` rendering, and JSON merge patch."""

from __future__ import annotations

import copy
from typing import Any

FieldPath = tuple[str, ...]
UNOWNED_METADATA = {"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                    "managedFields", "deletionTimestamp"}
MISSING = object()


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


def value_at(obj: Any, path: FieldPath) -> Any:
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return MISSING
        obj = obj[key]
    return obj


def set_at(obj: dict, path: FieldPath, value: Any) -> None:
    for key in path[:-1]:
        obj = obj.setdefault(key, {})
    obj[path[-1]] = value


def delete_at(obj: dict, path: FieldPath) -> None:
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


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge(target.get(key), value)
    return target


def drop_nulls(patch: Any) -> Any:
    if isinstance(patch, dict):
        return {k: drop_nulls(v) for k, v in patch.items() if v is not None}
    return patch


def content(obj: dict) -> dict:
    """The object without what storage alone changes (resourceVersion, managedFields)."""
    meta = {k: v for k, v in obj.get("metadata", {}).items() if k not in ("resourceVersion", "managedFields")}
    return {**obj, "metadata": meta}


def spec_part(obj: dict) -> dict:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}
