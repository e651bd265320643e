"""Strict validation: Kubernetes kinds against kubernetes-validate's strict schemas,
Istio kinds against their CRD schema with the API server's unknown-field rule."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from kmeshctl.errors import EXIT_USAGE, KmeshctlError, UsageError
from kmeshctl.params import InstallParams
from kmeshctl.render import render_manifests
from kmeshctl.validate import CrdSchemas, ValidationError, supported_kubernetes_versions, validate_manifests

REPO_ROOT = Path(__file__).resolve().parent.parent
ISTIO_CRDS = REPO_ROOT.parent / "shared" / "schemas" / "istio-crds.yaml"
SEED = InstallParams(xds_address="istiod-1-22-6.istio-system.svc:15012", cluster_id="c1")


@pytest.fixture(scope="module")
def istio_crds() -> CrdSchemas:
    if not ISTIO_CRDS.is_file():
        pytest.skip(f"Istio CRD schemas not found at {ISTIO_CRDS} (dev machines and CI only)")
    return CrdSchemas.from_files([ISTIO_CRDS])


@pytest.fixture()
def objects() -> list[dict]:
    return render_manifests(SEED)


def find(objs: list[dict], kind: str, name: str | None = None) -> dict:
    return next(o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name))


def problems(objs: list[dict], crds: CrdSchemas | None, version: str = "1.30") -> list[str]:
    with pytest.raises(ValidationError) as info:
        validate_manifests(objs, version, crds)
    assert info.value.exit_code == EXIT_USAGE and "\n" not in str(info.value)
    return info.value.problems


def test_seed_manifests_pass_strict_validation_with_istio_crds(objects: list[dict], istio_crds: CrdSchemas) -> None:
    validate_manifests(objects, "1.30", istio_crds)


@pytest.mark.parametrize("version", [supported_kubernetes_versions()[0], supported_kubernetes_versions()[-1]])
def test_seed_manifests_pass_oldest_and_newest_supported_kubernetes(istio_crds: CrdSchemas, version: str) -> None:
    """Rendered for that version (before 1.30 without the pod-patch admission policy)."""
    validate_manifests(render_manifests(dataclasses.replace(SEED, kubernetes_version=version)), version, istio_crds)


def test_kubernetes_objects_agree_with_kubernetes_validate_public_api(objects: list[dict]) -> None:
    for obj in objects:
        if obj["apiVersion"].startswith("networking.istio.io/"):
            continue
        kubernetes_validate.validate(obj, "1.30", strict=True)


def test_unknown_daemonset_field_rejected_with_path(objects: list[dict], istio_crds: CrdSchemas) -> None:
    find(objects, "DaemonSet")["spec"]["template"]["spec"]["containers"][0]["envFrom_typo"] = []
    assert problems(objects, istio_crds) == [
        "DaemonSet/kmesh: spec.template.spec.containers[0]: unknown field 'envFrom_typo'"
    ]


def test_asm_guide_env_under_volumes_rejected(objects: list[dict]) -> None:
    """Section 8: the ASM guide lists XDS_ADDRESS / CLUSTER_ID under volumes."""
    volumes = find(objects, "DaemonSet")["spec"]["template"]["spec"]["volumes"]
    volumes.append({"name": "XDS_ADDRESS", "value": "istiod-1-22-6.istio-system.svc:15012"})
    volumes.append({"name": "CLUSTER_ID", "value": "cluster-id"})
    found = problems(objects, None)
    assert len(found) == 2 and all("unknown field 'value'" in p for p in found)
    assert found[0].startswith(f"DaemonSet/kmesh: spec.template.spec.volumes[{len(volumes) - 2}]")


def test_wrong_type_in_kubernetes_object_rejected(objects: list[dict]) -> None:
    find(objects, "DaemonSet")["spec"]["template"]["spec"]["hostNetwork"] = "yes"
    [problem] = problems(objects, None)
    assert problem.startswith("DaemonSet/kmesh: spec.template.spec.hostNetwork: 'yes' is not of type")


@pytest.mark.parametrize(
    ("where", "path"),
    [
        (lambda ef: ef["spec"], "spec.selector"),
        (lambda ef: ef["spec"]["configPatches"][0], "spec.configPatches[0].selector"),
        (lambda ef: ef["spec"]["configPatches"][0]["patch"], "spec.configPatches[0].patch.selector"),
        (lambda ef: ef["spec"]["workloadSelector"], "spec.workloadSelector.selector"),
        (lambda ef: ef, "selector"),
    ],
)
def test_unknown_envoyfilter_field_rejected(objects: list[dict], istio_crds: CrdSchemas, where, path: str) -> None:
    where(find(objects, "EnvoyFilter", "add-listener-filter"))["selector"] = {"x": "y"}
    assert problems(objects, istio_crds) == [f"EnvoyFilter/add-listener-filter: {path}: unknown field 'selector'"]


def test_unknown_envoyfilter_metadata_field_rejected(objects: list[dict], istio_crds: CrdSchemas) -> None:
    find(objects, "EnvoyFilter", "skip-tunneling")["metadata"]["label"] = {"a": "b"}
    assert problems(objects, istio_crds) == ["EnvoyFilter/skip-tunneling: metadata: unknown field 'label'"]


def test_envoyfilter_preserved_and_map_fields_accept_any_keys(objects: list[dict], istio_crds: CrdSchemas) -> None:
    ef = find(objects, "EnvoyFilter", "add-listener-filter")
    ef["spec"]["configPatches"][0]["patch"]["value"]["any_envoy_field"] = {"nested": 1}  # preserve-unknown-fields
    ef["spec"]["workloadSelector"]["labels"]["team"] = "a"  # additionalProperties map
    validate_manifests(objects, "1.30", istio_crds)


def test_envoyfilter_enum_violation_rejected(objects: list[dict], istio_crds: CrdSchemas) -> None:
    find(objects, "EnvoyFilter", "add-original-dst-cluster")["spec"]["configPatches"][0]["match"]["context"] = "NODE"
    [problem] = problems(objects, istio_crds)
    assert problem.startswith("EnvoyFilter/add-original-dst-cluster: spec.configPatches[0].match.context: 'NODE'")


def test_every_problem_of_every_object_is_listed(objects: list[dict], istio_crds: CrdSchemas) -> None:
    find(objects, "Namespace")["spec"] = {"finalizer": []}
    find(objects, "ServiceAccount")["secret"] = []
    find(objects, "EnvoyFilter", "skip-tunneling")["spec"]["priority"] = "high"
    find(objects, "EnvoyFilter", "skip-tunneling")["spec"]["patches"] = []
    found = problems(objects, istio_crds)
    assert [p.split(":")[0] for p in found] == [
        "Namespace/kmesh-system",
        "ServiceAccount/kmesh",
        "EnvoyFilter/skip-tunneling",
        "EnvoyFilter/skip-tunneling",
    ]


def test_istio_kind_without_crd_version_rejected(objects: list[dict], istio_crds: CrdSchemas) -> None:
    find(objects, "EnvoyFilter", "skip-tunneling")["apiVersion"] = "networking.istio.io/v1beta9"
    [problem] = problems(objects, istio_crds)
    assert problem.startswith("EnvoyFilter/skip-tunneling: (root): no served CRD for EnvoyFilter")


def test_istio_kinds_rejected_when_crds_lack_them(objects: list[dict]) -> None:
    found = problems(objects, CrdSchemas.from_crd_objects([]))
    assert len(found) == 3 and all("no served CRD for EnvoyFilter" in p for p in found)


def test_unserved_crd_version_rejected(objects: list[dict]) -> None:
    crd = _envoyfilter_crd()
    crd["spec"]["versions"][0]["served"] = False
    assert len(problems(objects, CrdSchemas.from_crd_objects([crd]))) == 3


def test_without_crds_only_kubernetes_kinds_are_checked(objects: list[dict]) -> None:
    find(objects, "EnvoyFilter", "skip-tunneling")["spec"]["not_a_field"] = 1
    validate_manifests(objects, "1.30", None)
    find(objects, "DaemonSet")["spec"]["not_a_field"] = 1
    assert problems(objects, None) == ["DaemonSet/kmesh: spec: unknown field 'not_a_field'"]


def test_unsupported_kubernetes_version_is_a_usage_error(objects: list[dict]) -> None:
    with pytest.raises(UsageError, match="--kubernetes-version 1.19: not an accepted value; use one of"):
        validate_manifests(objects, "1.19", None)


def test_crds_from_cluster_objects(objects: list[dict]) -> None:
    crds = CrdSchemas.from_crd_objects([_envoyfilter_crd()])
    assert crds.kinds() == [("networking.istio.io", "v1alpha3", "EnvoyFilter")]
    validate_manifests(objects, "1.30", crds)


def test_crds_as_snake_case_model_dicts_are_refused() -> None:
    crd = _envoyfilter_crd()
    version = crd["spec"]["versions"][0]
    version["schema"] = {"open_apiv3_schema": version["schema"]["openAPIV3Schema"]}
    with pytest.raises(KmeshctlError, match="camelCase"):
        CrdSchemas.from_crd_objects([crd])


def test_crd_file_as_list_object(tmp_path: Path, objects: list[dict]) -> None:
    path = tmp_path / "crds.yaml"
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": [_envoyfilter_crd()]}))
    validate_manifests(objects, "1.30", CrdSchemas.from_files([path]))


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "cannot read"), ("a: [", "not valid YAML"), ("kind: ConfigMap\n", "holds no CustomResourceDefinition")],
)
def test_bad_crd_files(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "crds.yaml"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=message) as info:
        CrdSchemas.from_files([path])
    assert str(info.value).startswith(f"--crd-file {path}") and "\n" not in str(info.value)


_ENVOYFILTER_CRD_CACHE: list[dict] = []


def _envoyfilter_crd() -> dict:
    """The EnvoyFilter CRD of the shared schemas file (skips when absent)."""
    if not ISTIO_CRDS.is_file():
        pytest.skip(f"Istio CRD schemas not found at {ISTIO_CRDS} (dev machines and CI only)")
    if not _ENVOYFILTER_CRD_CACHE:
        docs = yaml.load_all(ISTIO_CRDS.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        _ENVOYFILTER_CRD_CACHE.append(next(d for d in docs if d and d["spec"]["names"]["kind"] == "EnvoyFilter"))
    return copy.deepcopy(_ENVOYFILTER_CRD_CACHE[0])


def _tiny_crd(version_schema: dict) -> dict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.istio.io"},
        "spec": {
            "group": "example.istio.io",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [{"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": version_schema}}],
        },
    }


def test_unknown_field_rules_follow_the_structural_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "open": {"type": "object", "x-kubernetes-preserve-unknown-fields": True, "properties": {"n": {"type": "integer"}}},
                    "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {"v": {"type": "string"}}}},
                    "items": {"type": "array", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
                    "template": {"type": "object", "x-kubernetes-embedded-resource": True, "properties": {"data": {"type": "object"}}},
                },
            }
        },
    }
    crds = CrdSchemas.from_crd_objects([_tiny_crd(schema)])
    widget = {
        "apiVersion": "example.istio.io/v1",
        "kind": "Widget",
        "metadata": {"name": "w", "namespace": "default"},
        "spec": {
            "open": {"n": 1, "anything": {"goes": True}},
            "map": {"a": {"v": "x"}},
            "items": [{"k": "a"}],
            "template": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {}},
        },
    }
    validate_manifests([widget], "1.30", crds)
    widget["spec"]["open"]["n"] = "one"  # declared fields are still type-checked under preserve-unknown
    widget["spec"]["map"]["a"]["w"] = "x"  # additionalProperties' schema has its own known fields
    widget["spec"]["items"][0]["j"] = "b"
    widget["spec"]["template"]["extra"] = 1
    assert problems([widget], crds) == [
        "Widget/w: spec.open.n: 'one' is not of type 'integer'",
        "Widget/w: spec.map.a.w: unknown field 'w'",
        "Widget/w: spec.items[0].j: unknown field 'j'",
        "Widget/w: spec.template.extra: unknown field 'extra'",
    ]
