"""Kind "the JSON says less than the text" (h110): disable-ns puts back the data plane label
enable-ns --overwrite replaced (recorded in kmeshctl.io/previous-dataplane-mode); the text
said so, -o json|yaml did not. Each namespace's entry now has `restoredLabel` (the label
put back, `istio.io/dataplane-mode=VALUE`) and `replacedLabel` (the label enable-ns
--overwrite replaced), null when none was (stand-in API server)."""

from __future__ import annotations

import json

import pytest
import yaml

from kmeshctl.namespaces import PREVIOUS_MODE_ANNOTATION
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_enable_ns_other_data_plane import MODE, labels_of

NS = "h110-team"


def _entry(result, output: str = "json") -> dict:
    assert result.code == 0, result
    [entry] = (json.loads if output == "json" else yaml.safe_load)(result.out)["namespaces"]
    return entry


@pytest.mark.parametrize("value", ["ambient", "none"])
def test_overwrite_then_disable_says_what_it_replaced_and_put_back(cluster, value: str) -> None:  # noqa: F811
    cluster.server.put(namespace(NS, {MODE: value}))
    enabled = _entry(cluster.kmeshctl("enable-ns", NS, "--overwrite", "-o", "json"))
    assert enabled == {"name": NS, "changed": True, "sidecarInjection": False,
                       "replacedLabel": f"{MODE}={value}", "restoredLabel": None}, enabled
    ns = cluster.server.get("v1", "Namespace", NS)["metadata"]
    assert ns["annotations"][PREVIOUS_MODE_ANNOTATION] == value
    released = _entry(cluster.kmeshctl("disable-ns", NS, "-o", "json"))
    assert released == {"name": NS, "changed": True, "sidecarInjection": False,
                        "replacedLabel": None, "restoredLabel": f"{MODE}={value}"}, released
    assert labels_of(cluster.server, NS) == {MODE: value}


def test_yaml_carries_the_same_fields(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace(NS, {MODE: "ambient"}))
    assert cluster.kmeshctl("enable-ns", NS, "--overwrite", "-q").code == 0
    released = _entry(cluster.kmeshctl("disable-ns", NS, "-o", "yaml"), "yaml")
    assert released["restoredLabel"] == f"{MODE}=ambient" and released["replacedLabel"] is None, released


def test_the_text_says_it_too(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace(NS, {MODE: "ambient"}))
    enabled = cluster.kmeshctl("enable-ns", NS, "--overwrite")
    assert f"namespace {NS} enrolled (was {MODE}=ambient)" in enabled.out, enabled
    released = cluster.kmeshctl("disable-ns", NS)
    assert f"namespace {NS} released ({MODE}=ambient put back, as before enable-ns --overwrite)" in \
        " ".join(released.out.split()), released


def test_a_plain_enable_and_disable_have_null_labels(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace(NS))
    for command in ("enable-ns", "enable-ns", "disable-ns", "disable-ns"):  # changed, then already so
        entry = _entry(cluster.kmeshctl(command, NS, "-o", "json"))
        assert entry["replacedLabel"] is None and entry["restoredLabel"] is None, (command, entry)
    assert MODE not in labels_of(cluster.server, NS)


def test_disable_of_another_data_plane_s_namespace_restores_nothing(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace(NS, {MODE: "ambient"}))
    entry = _entry(cluster.kmeshctl("disable-ns", NS, "-o", "json"))
    assert entry == {"name": NS, "changed": False, "sidecarInjection": False, "replacedLabel": None,
                     "restoredLabel": None}, entry
