"""After `kubectl scale deploy/waypoint --replicas=2` (field manager kubectl owns
.spec.replicas), `waypoint apply --replicas N` was refused for good: it had no
--force-conflicts (M8). Now the conflict's fix is the command typed with
--force-conflicts added, and that command takes the field back; objects of the
waypoint's names that it did not make stay refused, forced or not."""

from __future__ import annotations

import copy
import shlex

from kmeshctl.waypoint import deploy
from standin_apiserver import cluster, namespace  # noqa: F401 (fixture)
from test_cli_cluster_context import gateway_crd

APPS = "apps/v1"


def _scaled_by_kubectl(cluster, replicas: int) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    assert cluster.kmeshctl("waypoint", "apply", "-n", "default").code == 0
    scaled = copy.deepcopy(cluster.server.get(APPS, "Deployment", "waypoint", "default"))
    scaled["spec"]["replicas"] = replicas
    cluster.server.put(scaled, manager="kubectl")


def test_a_conflict_offers_the_typed_command_with_force_conflicts(cluster) -> None:  # noqa: F811
    _scaled_by_kubectl(cluster, 2)
    refused = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--replicas", "3", "-q")
    assert refused.code == 1, refused
    line = refused.err.strip()
    assert 'field manager "kubectl" owns .spec.replicas' in line and "nothing was applied" in line, line
    assert "; to take them back for kmeshctl, re-run with --force-conflicts: `" in line, line
    words = shlex.split(line.split("re-run with --force-conflicts: `")[1].split("`")[0])
    assert words[:4] == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "waypoint"], words
    assert words[4] == "apply" and sorted(words[5:]) == sorted(["-n", "default", "--replicas", "3", "-q",
                                                                 "--force-conflicts"]), words
    assert cluster.server.get(APPS, "Deployment", "waypoint", "default")["spec"]["replicas"] == 2
    forced = cluster.kmeshctl(*words[3:])
    assert forced.code == 0, forced
    assert cluster.server.get(APPS, "Deployment", "waypoint", "default")["spec"]["replicas"] == 3
    again = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--replicas", "3")
    assert again.code == 0 and "Nothing to do" in again.out, again  # the field is kmeshctl's again


def test_force_conflicts_with_dry_run_changes_nothing(cluster) -> None:  # noqa: F811
    _scaled_by_kubectl(cluster, 2)
    dry = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--replicas", "3", "--force-conflicts", "--dry-run")
    assert dry.code == 0, dry
    assert cluster.server.get(APPS, "Deployment", "waypoint", "default")["spec"]["replicas"] == 2


def test_force_conflicts_never_takes_an_object_the_waypoint_did_not_make(cluster) -> None:  # noqa: F811
    cluster.server.put(gateway_crd())
    cluster.server.put(namespace("default"))
    cluster.server.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "fortio", "namespace": "default"},
                        "spec": {"selector": {"app": "fortio"}, "ports": [{"port": 8080}]}}, manager="kubectl")
    result = cluster.kmeshctl("waypoint", "apply", "-n", "default", "--name", "fortio", "--force-conflicts")
    assert result.code == 2 and "Service default/fortio exists and was not made by kmeshctl" in result.err, result
    assert cluster.server.get(deploy.GATEWAY_API, "Gateway", "fortio", "default") is None
    assert not [r for r in cluster.server.writes() if "fortio" in r.path]
