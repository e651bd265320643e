"""A kind whose list fails with a server error (F19E, finding A): a 500 (what a CRD with its
conversion webhook down answers), a 504 or a 429 of one kind's list keeps the namespace and
names the kind, as a 503 does; it never stops uninstall after everything else went."""

from __future__ import annotations

import pytest

from standin import HttpError, Resource
from standin_apiserver import cluster  # noqa: F401 (fixture)

GADGET = Resource("f19e-broken.example.com", "v1", "Gadget", "gadgets", True)
REASONS = {500: "InternalError", 504: "Timeout", 429: "TooManyRequests"}


@pytest.mark.parametrize("status", [500, 504, 429])
def test_a_failing_list_keeps_the_namespace_and_names_the_kind(cluster, status: int) -> None:  # noqa: F811
    cluster.server.extra_resources.append(GADGET)
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    real_list = cluster.server.list

    def listing(res, namespace, labels, fields):  # type: ignore[no-untyped-def]
        if res.group == GADGET.group:
            raise HttpError(status, REASONS[status], "an error on the server (\"\") has prevented the request")
        return real_list(res, namespace, labels, fields)

    cluster.server.list = listing
    result = cluster.kmeshctl("uninstall")
    assert result.code == 0, result
    kept = next(line for line in result.out.splitlines() if line.startswith("Namespace kmesh-system kept"))
    assert "could not list its Gadget objects (not listable by this user, or their API is down or failing)" in kept
    assert cluster.server.get("v1", "Namespace", "kmesh-system") is not None
    assert cluster.server.get("rbac.authorization.k8s.io/v1", "ClusterRole", "kmesh") is None


def test_a_client_error_of_a_list_still_stops_uninstall(cluster) -> None:  # noqa: F811
    """Only a refusal or a server's failure leaves a kind unlisted: a 400 is kmeshctl's bug."""
    cluster.server.extra_resources.append(GADGET)
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    real_list = cluster.server.list

    def listing(res, namespace, labels, fields):  # type: ignore[no-untyped-def]
        if res.group == GADGET.group:
            raise HttpError(400, "BadRequest", "f19e bad selector")
        return real_list(res, namespace, labels, fields)

    cluster.server.list = listing
    result = cluster.kmeshctl("uninstall")
    assert result.code == 1, result
    assert "f19e bad selector" in result.err, result.err
