"""Findings of a new-user tester on a real cluster (p24), each against the stand-in API server:

1. a rollout that times out because istiod refuses the agents (UNAUTHENTICATED: the cluster
   id they send is not istiod's) names --cluster-id, with istiod's own (read from its
   Deployment's CLUSTER_ID, or how to read it) in the install to paste, every flag typed;
   never --xds-address with a placeholder when istiod was found. Every other diagnosis of
   an agent's istiod connection names the right thing: istiod's own address that fails
   points at istiod's log, not at a placeholder address;
13. --xds-address with istiod's plaintext port 15010 is refused before anything (render,
   install, install --dry-run, node run), exit 2, one line with the same host on :15012;
15. install refuses with every blocker precheck finds (Pod Security, a foreign ClusterRole,
   an enrolled namespace, no istiod, no Istio kinds) in one line, nothing applied.

Real parts: kmeshctl.cli.main in-process against the stand-in API server (tests/standin);
the agents' admin endpoint (config_dump.fetch_from_pod) and the DaemonSet's state are
replaced (the stand-in runs no agent)."""

from __future__ import annotations

import json
import shlex

import pytest

from kmeshctl.errors import UsageError
from kmeshctl.params import check_xds_address
from standin_apiserver import cluster, make_cluster, namespace  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)

ISTIOD = "istiod-1-22-6.istio-system.svc:15012"  # the stand-in's one istiod Service
USER = "kubectl-create"
REFUSED = ("UNAUTHENTICATED: authentication failure; istiod refused the token or the cluster id: check that "
           "CLUSTER_ID 'wrong-id' (install --cluster-id) is istiod's own and the token has audience istio-ca")


def _writes(cluster) -> list:  # noqa: F811
    return [r for r in cluster.server.requests if r.method in ("POST", "PATCH", "PUT", "DELETE")
            and not r.dry_run and "selfsubjectaccessreviews" not in r.path]


def _commands(line: str, tool: str) -> list[list[str]]:
    return [shlex.split(c) for c in line.split("`")[1::2] if c.startswith(tool)]


# -- 1: the fix of a rollout the agents' istiod connection holds up ---------------------------------


def _istiod_deployment(cluster, env: list[dict] | None, name: str = "istiod-1-22-6") -> None:  # noqa: F811
    """istiod's Deployment behind the stand-in's istiod Service (selector app=istiod)."""
    container = {"name": "discovery", "image": "istio/pilot:1.22.6", **({"env": env} if env is not None else {})}
    cluster.server.put({"apiVersion": "apps/v1", "kind": "Deployment",
                        "metadata": {"name": name, "namespace": "istio-system"},
                        "spec": {"selector": {"matchLabels": {"app": "istiod"}},
                                 "template": {"metadata": {"labels": {"app": "istiod"}},
                                              "spec": {"containers": [container]}}}}, USER)


def _agents_say(monkeypatch, address: str, last_error: str) -> None:
    """Two agents running, not ready, whose admin endpoint reports ``last_error``; the
    DaemonSet never gets ready."""
    from kmeshctl import config_dump, rollout

    pods = [rollout.PodState(f"kmesh-{n}", "kmesh-system", n, "Running", False, 0, "img",
                             "ContainersNotReady: containers with unready status: [kmesh]", "")
            for n in ("node-a", "node-b")]
    monkeypatch.setattr(rollout, "read_rollout", lambda *args: rollout.RolloutState(True, 2, 2, 0, True, pods))
    monkeypatch.setattr(config_dump, "fetch_from_pod", lambda path, pod, ns, port, target: {
        "address": address, "connected": False, "lastError": last_error})


def _rollout_ready(monkeypatch) -> None:
    from kmeshctl import rollout

    monkeypatch.setattr(rollout, "read_rollout", lambda *args: rollout.RolloutState(True, 2, 2, 2, True, []))


def _fix_line(result) -> str:  # noqa: F811
    assert result.code == 1, result
    last = result.err.strip().splitlines()[-1]
    assert last.startswith("Error: DaemonSet kmesh-system/kmesh not ready after 1s"), last
    return last


def _refused_up_front(result) -> str:  # noqa: F811
    """Since p26 a --cluster-id that is not istiod's is refused before anything is written."""
    assert result.code == 2 and not result.out, result
    [line] = result.err.strip().splitlines()
    return line


def test_a_cluster_id_istiod_refuses_names_cluster_id_with_istiods_own(cluster, monkeypatch) -> None:  # noqa: F811
    _istiod_deployment(cluster, [{"name": "PILOT_ENABLE_AMBIENT", "value": "true"},
                                 {"name": "CLUSTER_ID", "value": "c-asm"}])
    last = _refused_up_front(cluster.kmeshctl("install", "--cluster-id", "wrong-id", "--timeout", "1"))
    assert "--cluster-id wrong-id: not istiod's cluster id, which is c-asm" in last, last
    assert "ISTIOD_HOST" not in last and "--xds-address" not in last, last  # istiod was found: no address to fix
    assert not _writes(cluster), _writes(cluster)
    # the install to paste: every flag typed, --cluster-id istiod's own
    [install] = _commands(last, "kmeshctl")
    assert install == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "install", "--cluster-id", "c-asm",
                       "--timeout", "1s"], install
    _rollout_ready(monkeypatch)
    pasted = cluster.kmeshctl(*install[3:])
    assert pasted.code == 0 and "is ready" in pasted.err, pasted


def test_an_istiod_without_cluster_id_is_known_by_istios_default(cluster) -> None:  # noqa: F811
    _istiod_deployment(cluster, None)
    last = _refused_up_front(cluster.kmeshctl("install", "--cluster-id", "wrong-id", "--xds-address", ISTIOD,
                                              "--timeout", "1"))
    assert "which is Kubernetes" in last, last
    [install] = _commands(last, "kmeshctl")
    assert install[3:] == ["install", "--xds-address", ISTIOD, "--cluster-id", "Kubernetes", "--timeout", "1s"], last


def test_a_token_refused_with_istiods_own_cluster_id_points_at_istiods_log(cluster, monkeypatch) -> None:  # noqa: F811
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "c1"}])
    _agents_say(monkeypatch, ISTIOD, REFUSED.replace("wrong-id", "c1"))
    last = _fix_line(cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "1"))
    assert "istiod refused the agents' token" in last and "--cluster-id c1 is istiod's own" in last, last
    assert _commands(last, "kubectl")[0][:5] == ["kubectl", "-n", "istio-system", "logs", "deploy/istiod-1-22-6"], last
    assert "ISTIOD_HOST" not in last and "--xds-address" not in last, last


def test_a_refusal_with_istiods_deployment_unread_says_how_to_read_it(cluster, monkeypatch) -> None:  # noqa: F811
    _agents_say(monkeypatch, ISTIOD, REFUSED)  # no Deployment behind the Service (e.g. not readable)
    last = _fix_line(cluster.kmeshctl("install", "--cluster-id", "wrong-id", "--timeout", "1"))
    assert "re-run install with --cluster-id set to istiod's own cluster id" in last, last
    [read] = _commands(last, "kubectl")
    assert read[:6] == ["kubectl", "-n", "istio-system", "get", "deploy", "istiod-1-22-6"], read
    [install] = _commands(last, "kmeshctl")
    assert install[3:] == ["install", "--cluster-id", "ID", "--timeout", "1s"] and "with ID that id" in last, last
    assert "ISTIOD_HOST" not in last and "--xds-address" not in last, last


@pytest.mark.parametrize("error", ["UNAVAILABLE: failed to connect to all addresses; last error: UNKNOWN: "
                                   "ipv4:10.96.0.12:15012: Failed to connect to remote host: Connection refused",
                                   "UNAVAILABLE: Ssl handshake failed: SSL_ERROR_SSL: CERTIFICATE_VERIFY_FAILED",
                                   ""])
def test_istiods_own_address_failing_points_at_istiod_not_at_a_placeholder(cluster, monkeypatch,  # noqa: F811
                                                                         error) -> None:
    _istiod_deployment(cluster, [{"name": "CLUSTER_ID", "value": "c1"}])
    _agents_say(monkeypatch, "istiod-1-22-6.istio-system.svc.cluster.local:15012", error)
    last = _fix_line(cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "1"))
    assert "ISTIOD_HOST" not in last and "--xds-address" not in last and "--image" not in last, last
    assert "which the cluster has at that address" in last, last
    assert ["kubectl", "-n", "istio-system", "logs", "deploy/istiod-1-22-6"] in \
        [c[:5] for c in _commands(last, "kubectl")], last
    assert ("not yet connected" in last) == (not error), last


def test_an_address_that_is_not_istiods_still_names_the_one_istiod_found(cluster, monkeypatch) -> None:  # noqa: F811
    _agents_say(monkeypatch, "10.0.0.99:15012", "UNAVAILABLE: dial tcp 10.0.0.99:15012: i/o timeout")
    last = _fix_line(cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address", "10.0.0.99:15012",
                                      "--timeout", "1"))
    [install] = _commands(last, "kmeshctl")
    assert install[3:] == ["install", "--xds-address", ISTIOD, "--cluster-id", "c1", "--timeout", "1s"], last


def test_an_address_with_several_istiods_found_offers_the_first_naming_the_others(make_cluster,  # noqa: F811
                                                                                  monkeypatch) -> None:
    several = make_cluster(istiod_names=("istiod-1-22-6", "istiod-1-23-1"))
    _agents_say(monkeypatch, "10.0.0.99:15012", "UNAVAILABLE: dial tcp 10.0.0.99:15012: i/o timeout")
    last = _fix_line(several.kmeshctl("install", "--cluster-id", "c1", "--xds-address", "10.0.0.99:15012",
                                      "--timeout", "1"))
    assert "--xds-address istiod-1-22-6.istio-system.svc:15012 " in last, last  # pass 30: a line that runs
    assert "istiod Services found: istiod-1-22-6.istio-system.svc:15012, istiod-1-23-1.istio-system.svc:15012" in last
    assert "(or another of them: the revision meant)" in last, last


# -- 13: istiod's plaintext port ---------------------------------------------------------------------

PLAINTEXT = "istiod.istio-system.svc:15010"
PLAINTEXT_LINE = ("Error: --xds-address istiod.istio-system.svc:15010: port 15010 is istiod's plaintext xDS port, "
                  "and the agents speak TLS to istiod (port 15012); use --xds-address istiod.istio-system.svc:15012")


@pytest.mark.parametrize("extra", [(), ("--dry-run",)], ids=["install", "dry-run"])
def test_install_refuses_istiods_plaintext_port_before_anything(cluster, extra) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address", PLAINTEXT, *extra)
    assert result.code == 2 and not result.out, result
    [line] = result.err.strip().splitlines()
    # the fix is this install with istiod's TLS port, every flag kept (pass 28)
    whole = " ".join([f"kmeshctl --kubeconfig {cluster.kubeconfig} install --xds-address "
                      "istiod.istio-system.svc:15012 --cluster-id c1", *extra])
    assert line.startswith(PLAINTEXT_LINE.rpartition("; use ")[0] + f"; use `{whole}`"), line
    assert not _writes(cluster) and not [r for r in cluster.server.requests if r.dry_run], cluster.server.requests


def test_render_and_node_run_refuse_it_alike_and_the_value_offered_passes(capsys, no_env) -> None:  # noqa: F811
    code, out, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", PLAINTEXT)
    # the fix is the whole render line (f36a), as install's
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert err.startswith(PLAINTEXT_LINE.rpartition("; use ")[0] + "; use `kmeshctl render --xds-address "
                          "istiod.istio-system.svc:15012 --cluster-id c1`"), err
    code, out, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012")
    assert code == 0 and out, err
    code, out, err = cli(capsys, "node", "run", "--xds-address", PLAINTEXT)
    # node run's fix is its whole line too (f38a)
    whole = "; use `kmeshctl node run --xds-address istiod.istio-system.svc:15012`"
    assert code == 2 and err.strip().splitlines()[0].startswith(PLAINTEXT_LINE.rpartition("; use ")[0] + whole), err
    with pytest.raises(UsageError) as raised:  # the agent's own check, of $XDS_ADDRESS
        check_xds_address("[fd00::7]:15010", flag="$XDS_ADDRESS", allow_unix=True)
    assert str(raised.value).endswith("; use $XDS_ADDRESS=[fd00::7]:15012"), raised.value


def test_a_suggested_address_never_carries_the_plaintext_port(capsys, no_env) -> None:  # noqa: F811
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", "[istiod]:15010")
    # pass 30: a bare istiod name is refused in turn, so the fix is its .svc form, in one step
    assert code == 2 and "--xds-address istiod.istio-system.svc:15012 " in err, err


# -- 15: every blocker at once -------------------------------------------------------------------------

PSA = "pod-security.kubernetes.io/enforce"


def _psa_namespace_and_foreign_cluster_role(cluster, **extra_labels: str) -> None:  # noqa: F811
    cluster.server.put(namespace("p24-agents", {PSA: "baseline", **extra_labels}), USER)
    cluster.server.put({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                        "metadata": {"name": "kmesh"}, "rules": []}, USER)


def _failed_rows(cluster, *args: str) -> list[dict]:  # noqa: F811
    checked = cluster.kmeshctl("precheck", "-o", "json", *args)
    return [row for row in json.loads(checked.out)["checks"] if row["status"] == "fail"]


@pytest.mark.parametrize("extra", [(), ("--dry-run",)], ids=["install", "dry-run"])
def test_install_lists_every_blocker_precheck_finds(cluster, extra) -> None:  # noqa: F811
    _psa_namespace_and_foreign_cluster_role(cluster)
    failed = _failed_rows(cluster, "-n", "p24-agents")
    assert [row["name"] for row in failed] == ["Pod Security level", "objects install would write"], failed
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "-n", "p24-agents", *extra)
    assert result.code == 2 and not result.out, result
    [line] = result.err.strip().splitlines()
    assert line.startswith("Error: 2 problems block the install, nothing was applied: (1) namespace p24-agents "
                           "enforces Pod Security level baseline"), line
    for row in failed:  # precheck's problem and fix, each
        assert row["detail"].removesuffix(": install would refuse it").removesuffix(": install would refuse them") \
            in line and row["fix"] in line, (row, line)
    assert "(2) ClusterRole kmesh exists and was not made by kmeshctl: delete it (`kubectl delete clusterrole " \
           "kmesh" in line, line
    assert not _writes(cluster), _writes(cluster)


def test_an_enrolled_namespace_is_listed_with_the_others(cluster) -> None:  # noqa: F811
    _psa_namespace_and_foreign_cluster_role(cluster, **{"istio.io/dataplane-mode": "ambient"})
    failed = _failed_rows(cluster, "-n", "p24-agents")
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "-n", "p24-agents", "--no-wait")
    assert result.code == 2, result
    # one line naming all; when that is longer than an error line is shown whole (1,000
    # characters: here the kubeconfig's path is in each kubectl line), each on its own above
    text = result.err.replace("\n  (", " (")
    assert result.err.strip().splitlines()[-1].startswith("Error: 3 problems block the install"), result.err
    assert text.index("(1) namespace p24-agents enforces") < text.index("(2) namespace p24-agents is enrolled") < \
        text.index("(3) ClusterRole kmesh exists"), text
    assert len(failed) == 3 and all(row["fix"] in text for row in failed), (failed, text)
    assert "characters cut" not in text, text
    assert not _writes(cluster)


def test_no_istiod_is_listed_with_the_others_and_its_exit_code_kept(make_cluster) -> None:  # noqa: F811
    bare = make_cluster(istiod_names=())
    _psa_namespace_and_foreign_cluster_role(bare)
    failed = _failed_rows(bare, "-n", "p24-agents")
    assert [row["name"] for row in failed][0] == "istiod Service :15012", failed
    result = bare.kmeshctl("install", "--cluster-id", "c1", "-n", "p24-agents")
    assert result.code == 1, result  # the first blocker's, as precheck orders them: the cluster's lack of istiod
    text = result.err.replace("\n  (", " (")
    assert result.err.strip().splitlines()[-1].startswith("Error: 3 problems block the install"), result.err
    assert "(1) no istiod Service exposing port 15012 in namespace istio-system" in text, text
    assert "(2) namespace p24-agents enforces" in text and "(3) ClusterRole kmesh exists" in text, text
    assert not _writes(bare)


def test_one_blocker_alone_keeps_its_own_words(cluster) -> None:  # noqa: F811
    cluster.server.put({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                        "metadata": {"name": "kmesh"}, "rules": []}, USER)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait")
    assert result.code == 2, result
    assert result.err.startswith("Error: ClusterRole kmesh exists and was not made by kmeshctl; delete it"), result
    assert "problems block" not in result.err


def test_each_object_install_would_write_is_read_once(cluster) -> None:  # noqa: F811
    """The blockers' check and the ownership check share one read of every object."""
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run")
    assert result.code == 0, result
    reads = [r.path for r in cluster.server.requests if r.method == "GET" and not r.watch
             and ("/namespaces/kmesh-system/" in r.path or r.path.endswith("/clusterroles/kmesh"))]
    assert reads and len(reads) == len(set(reads)), sorted(reads)
