"""The istiod Services an --xds-address refusal offers are found by the same test the
address must pass (istiod.is_istiod_service): a Service Istio's charts mark as istiod's
(app=istiod / istio=pilot) under another name is offered, and the offer is accepted when
pasted; a Service named istiod* without the xDS port is not offered. A port whose
correction is clear (istiod's plaintext 15010, a leading zero) offers the whole install.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin)."""

from __future__ import annotations

import pytest

from standin_apiserver import cluster, istiod_service  # noqa: F401 (fixture)
from test_p24_install import ISTIOD, USER
from test_p27_xds_address import AGENTS, EXTRA, EXTRA_IDS, _kube_dns, _refused_with_istiods
from test_p26_install import _nothing_sent, _one_error_line

PILOT = "istio-pilot.istio-system.svc:15012"


def test_a_service_marked_as_istiods_under_another_name_is_offered(cluster) -> None:  # noqa: F811
    _kube_dns(cluster)
    pilot = istiod_service("istio-pilot")
    pilot["metadata"]["labels"] = {"istio": "pilot"}
    cluster.server.put(pilot, USER)
    result = cluster.kmeshctl("install", "-n", AGENTS, "--cluster-id", "c1", "--xds-address",
                              "kube-dns.kube-system.svc:53", "--dry-run")
    line = _one_error_line(result)
    assert result.code == 2 and "istiod Services found: " in line and PILOT in line, line
    _nothing_sent(cluster)
    accepted = cluster.kmeshctl("install", "-n", AGENTS, "--cluster-id", "c1", "--xds-address", PILOT, "--dry-run")
    assert accepted.code == 0, accepted


def test_a_service_named_istiod_without_the_xds_port_is_not_offered(cluster) -> None:  # noqa: F811
    _kube_dns(cluster)
    webhook = istiod_service("istiod-webhook")
    webhook["spec"]["ports"] = [{"name": "https-webhook", "port": 443, "protocol": "TCP"}]
    cluster.server.put(webhook, USER)
    line = _one_error_line(cluster.kmeshctl("install", "-n", AGENTS, "--cluster-id", "c1", "--xds-address",
                                            "kube-dns.kube-system.svc:53", "--dry-run"))
    assert "istiod Services found: " in line and "istiod-webhook" not in line, line


@pytest.mark.parametrize("port,problem", [("15010", "port 15010 is istiod's plaintext xDS port"),
                                          ("015012", "port 015012 has a leading zero")])
@pytest.mark.parametrize("extra", EXTRA, ids=EXTRA_IDS)
def test_a_port_whose_correction_is_clear_offers_the_whole_install(cluster, monkeypatch, port, problem,  # noqa: F811
                                                                   extra) -> None:
    """(p28: 15010 gave a bare `use --xds-address ...`, dropping --cluster-id and --dry-run.)"""
    address = ISTIOD.rpartition(":")[0] + ":" + port
    _refused_with_istiods(cluster, monkeypatch, address, problem, extra)
