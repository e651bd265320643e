"""Pass 32 (f32b): `waypoint apply`'s and `waypoint status`'s fixes keep what the user typed
and what the waypoint runs: apply --wait's re-apply keeps every flag typed (--image alone
replaced), status's carries the waypoint's --revision and --replicas (and apply warns when
it changes them untyped); -o json|yaml has notApplied on every failure; a name another
tool's Gateway holds gets apply's fix with a free --name."""

from __future__ import annotations

import json
import re
import shlex
import time

from kmeshctl.render import COMMON_LABELS
from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

BACKTICKED = re.compile(r"`([^`]*)`")
BAD = "docker.io/kmeshctl/kmeshctl-waypoint:nope"
DEFAULT = deploy.DEFAULT_IMAGE


def _ready(cluster, ns: str = "default") -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace(ns))


def _fix_with(text: str, word: str) -> list[str]:
    [fix] = {c for c in BACKTICKED.findall(text) if word in c}  # one fix, on each pod's line
    return shlex.split(fix)


def _pods_made(cluster, count: int, ns: str = "default") -> None:  # noqa: F811
    """Until the stand-in's Deployment controller has made ``count`` pods in ``ns``."""
    deadline = time.monotonic() + 10
    while len([k for k in cluster.server.objects if k[1] == "pods" and k[2] == ns]) < count:
        assert time.monotonic() < deadline, "no pods made"
        time.sleep(0.05)


def _head(cluster) -> list[str]:  # noqa: F811
    return ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "waypoint", "apply"]


# ------------------------------------------------------------------ 1. apply --wait keeps every flag typed


def test_wait_timeout_image_fix_keeps_every_flag_typed(cluster) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.deployment_controller = "stuck"
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp2", "--image", BAD, "--replicas",
                              "3", "--revision", "default", "--wait", "--timeout", "1s")
    assert result.code == 1 and f"the image {BAD} cannot be pulled" in result.err, result
    # the image put back is a real one, never an IMAGE to fill in (t41c 3)
    assert _fix_with(result.err, DEFAULT) == [*_head(cluster), "-n", "default", "--name", "wp2", "--image", DEFAULT,
                                              "--replicas", "3", "--wait", "--timeout", "1s", "--revision",
                                              "default"], result.err


def test_wait_timeout_fix_keeps_short_spellings_and_adds_the_namespace(cluster) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.deployment_controller = "stuck"
    result = cluster.kmeshctl("waypoint", "apply", "--image", BAD, "-r", "default", "--replicas", "2", "--wait",
                              "--timeout", "1")
    assert result.code == 1, result
    words = _fix_with(result.err, DEFAULT)
    assert words[:5] == _head(cluster) and words.count("--image") == 1, words
    assert {"-r", "--replicas", "--wait", "--timeout", "-n"} <= set(words), words
    assert words[words.index("-r") + 1] == "default" and words[words.index("--replicas") + 1] == "2", words
    assert words[words.index("-n") + 1] == "default" and words[words.index("--image") + 1] == DEFAULT, words


# ------------------------------------------------------------------ 2. status carries revision and replicas


def test_status_image_fix_carries_the_waypoint_s_revision_and_replicas(cluster) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.deployment_controller = "stuck"
    applied = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp", "--image", BAD, "--replicas",
                               "2", "-r", "default")
    assert applied.code == 0, applied
    _pods_made(cluster, 2)
    status = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp")
    assert status.code == 1 and "ImagePullBackOff" in status.out, status
    words = _fix_with(status.out, DEFAULT)
    assert words[:5] == _head(cluster), words
    assert words[words.index("--replicas") + 1] == "2" and words[words.index("--revision") + 1] == "default", words
    assert words[words.index("--image") + 1] == DEFAULT and words.count("--image") == 1, words


def test_status_fix_leaves_defaults_out(cluster) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.deployment_controller = "stuck"
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp", "--image", BAD).code == 0
    _pods_made(cluster, 1)
    status = cluster.kmeshctl("waypoint", "status", "-n", "default", "--name", "wp")
    assert _fix_with(status.out, DEFAULT) == [*_head(cluster), "-n", "default", "--name", "wp", "--image",
                                              DEFAULT], status.out


def test_apply_warns_when_it_changes_replicas_or_revision_not_typed(cluster) -> None:  # noqa: F811
    from standin_apiserver import istiod_service

    _ready(cluster)
    cluster.server.put(istiod_service("istiod"))  # revision default runs: keeping it is offered
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp", "--replicas", "2", "-r",
                            "default").code == 0
    again = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp")
    assert again.code == 0, again
    [warning] = [line for line in again.err.splitlines() if line.startswith("Warning: waypoint default/wp")]
    assert "its replicas go from 2 to 1 and its Gateway loses label istio.io/rev=default (--replicas and " \
        "--revision not given: the default)" in warning, warning
    assert _fix_with(warning, "--replicas") == [*_head(cluster), "-n", "default", "--name", "wp", "--replicas",
                                                "2", "--revision", "default"], warning
    same = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp", "--replicas", "3")
    assert same.code == 0 and "Warning: waypoint" not in same.err, same  # typed: what the user asked for


# ------------------------------------------------------------------ 3. notApplied on every failure


def test_wait_timeout_document_has_not_applied(cluster) -> None:  # noqa: F811
    _ready(cluster)
    cluster.server.deployment_controller = "stuck"
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "wp4", "--image", BAD, "--wait",
                              "--timeout", "1", "-o", "json")
    assert result.code == 1, result
    document = json.loads(result.out)
    assert document["notApplied"] == [] and document["error"], document
    assert len(document["applied"]) == 6, document


# ------------------------------------------------------------------ 4. apply over another tool's Gateway


def _foreign_gateway(cluster, ns: str = "team-a", name: str = "waypoint") -> None:  # noqa: F811
    _ready(cluster, ns)
    cluster.server.put({"apiVersion": deploy.GATEWAY_API, "kind": "Gateway",
                        "metadata": {"name": name, "namespace": ns, "labels": {"istio.io/waypoint-for": "service"}},
                        "spec": {"gatewayClassName": "istio-waypoint", "listeners": []}})


def test_apply_over_a_foreign_gateway_offers_a_free_name_keeping_every_flag(cluster) -> None:  # noqa: F811
    _foreign_gateway(cluster)
    result = cluster.kmeshctl("waypoint", "apply", "-n", "team-a", "--replicas", "2")
    assert result.code == 2 and not result.out, result
    assert result.err.startswith("Error: Gateway team-a/waypoint exists and was not made by kmeshctl waypoint apply "
                                 "--name waypoint; choose another --name: `"), result.err
    words = _fix_with(result.err, "waypoint-kmesh")
    assert words == [*_head(cluster), "-n", "team-a", "--replicas", "2", "--name", "waypoint-kmesh"], words
    made = cluster.kmeshctl(*words[3:])
    assert made.code == 0, made
    assert cluster.server.get(deploy.GATEWAY_API, "Gateway", "waypoint-kmesh", "team-a") is not None


def test_apply_dry_run_over_a_foreign_gateway_replaces_the_name_typed(cluster) -> None:  # noqa: F811
    _foreign_gateway(cluster, name="east")
    result = cluster.kmeshctl("waypoint", "apply", "-n", "team-a", "--name=east", "--dry-run")
    assert result.code == 2, result
    words = _fix_with(result.err, "east-kmesh")
    assert words == [*_head(cluster), "-n", "team-a", "--name", "east-kmesh", "--dry-run"], words


def test_apply_offers_no_name_that_is_taken_too(cluster) -> None:  # noqa: F811
    _foreign_gateway(cluster)
    cluster.server.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "waypoint-kmesh",
                                                                            "namespace": "team-a"},
                        "spec": {"ports": [{"port": 80}]}})
    result = cluster.kmeshctl("waypoint", "apply", "-n", "team-a")
    assert result.code == 2 and "choose another --name" in result.err, result
    assert "waypoint-kmesh" not in result.err, result


def test_a_binding_collision_offers_a_free_name(cluster) -> None:  # noqa: F811
    _ready(cluster, "f32b-a")
    _ready(cluster, "f32b-a-b")
    assert cluster.kmeshctl("waypoint", "apply", "-n", "f32b-a", "--name", "b-c").code == 0
    result = cluster.kmeshctl("waypoint", "apply", "-n", "f32b-a-b", "--name", "c")
    assert result.code == 2 and "choose another --name: `" in result.err, result
    words = _fix_with(result.err, "c-kmesh")
    assert cluster.kmeshctl(*words[3:]).code == 0
    assert COMMON_LABELS  # the waypoint made is kmeshctl's (status reads it)
    assert cluster.kmeshctl("waypoint", "status", "-n", "f32b-a-b", "--name", "c-kmesh").code != 2
