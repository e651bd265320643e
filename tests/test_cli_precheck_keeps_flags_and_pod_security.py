"""Helper h93, two precheck debts:

- kind "a pasted fix drops flags the user typed": precheck's fixes that run precheck or
  install again dropped `-o` (and spelled `-n` as `--namespace`); now they keep every flag
  typed that the command takes, as typed (the same mechanism as every other suggested
  command: kmeshctl.cli.render.same_work_command), with the user's --kubeconfig/--context;
  an install suggested keeps -n / --istio-namespace but not precheck's -o (another thing
  there, and table / wide are refused).
- kind "precheck passes what install refuses": an existing namespace of the user's that
  enforces a Pod Security level other than privileged is refused by install; precheck now
  fails that check with the same fix (the `kubectl label namespace ... --overwrite` line),
  from install's own check (kmeshctl.apply.pod_security_refusal), in the table and in -o json.

Real parts: kmeshctl.cli.main in-process against the stand-in API server."""

from __future__ import annotations

import json
import shlex

import pytest

from standin_apiserver import cluster, make_cluster  # noqa: F401 (fixtures)
from standin_apiserver import namespace as namespace_object

USER_MANAGER = "kubectl-create"
TEAM = "h93-team"


def _row(result, prefix: str) -> dict:
    return next(c for c in json.loads(result.out)["checks"] if c["name"].startswith(prefix))


def _pasted(text: str, tool: str = "kmeshctl") -> list[list[str]]:
    return [shlex.split(c) for c in text.split("`")[1::2] if c.startswith(tool)]


@pytest.mark.parametrize("output", [["-o", "json"], ["-o", "yaml"], ["--output", "wide"]], ids=["json", "yaml", "wide"])
def test_the_precheck_to_paste_keeps_every_flag_typed(cluster, output) -> None:  # noqa: F811
    result = cluster.kmeshctl("--context", "standin", "precheck", "-n", "kmesh-h93", "--istio-namespace", "nosuch",
                              *output)
    assert result.code == 1, result
    text = result.out
    if output[1] == "json":
        text = _row(result, "istiod")["fix"]
    [pasted] = _pasted(" ".join(text.split()) if output[1] == "wide" else text)
    assert pasted == ["kmeshctl", "--kubeconfig", str(cluster.kubeconfig), "--context", "standin", "precheck",
                      "-n", "kmesh-h93", "--istio-namespace", "istio-system", *output], pasted


def test_the_install_to_paste_keeps_the_namespaces_not_precheck_s_output(make_cluster) -> None:  # noqa: F811
    several = make_cluster(istiod_names=("istiod-1-22-6", "istiod-1-23-0"))
    result = several.kmeshctl("--context", "standin", "precheck", "--namespace", "kmesh-h93", "--istio-namespace",
                              "istio-system", "-o", "json")
    row = _row(result, "istiod")
    assert row["status"] == "warn", row
    [pasted] = _pasted(row["fix"])
    assert pasted == ["kmeshctl", "--kubeconfig", str(several.kubeconfig), "--context", "standin", "install",
                      "--namespace", "kmesh-h93", "--istio-namespace", "istio-system", "--cluster-id", "ID",
                      "--xds-address", "istiod-1-22-6.istio-system.svc:15012"], pasted


@pytest.mark.parametrize("output", [[], ["-o", "json"]], ids=["table", "json"])
def test_a_namespace_install_would_refuse_for_pod_security_fails_with_installs_fix(cluster,  # noqa: F811
                                                                                  output) -> None:
    cluster.server.put(namespace_object(TEAM, {"pod-security.kubernetes.io/enforce": "baseline"}), USER_MANAGER)
    checked = cluster.kmeshctl("--context", "standin", "precheck", "-n", TEAM, "-o", "json")
    assert checked.code == 1, checked
    row = _row(checked, "Pod Security")
    assert row["status"] == "fail", row
    assert row["detail"].startswith(f"namespace {TEAM} enforces Pod Security level baseline, and the agent pods "
                                    "need privileged"), row
    label = ["kubectl", "label", "namespace", TEAM, "pod-security.kubernetes.io/enforce=privileged", "--overwrite",
             "--kubeconfig", str(cluster.kubeconfig), "--context", "standin"]
    assert _pasted(row["fix"], "kubectl") == [label], row
    refused = cluster.kmeshctl("--context", "standin", "install", "--cluster-id", "c1", "-n", TEAM, "--no-wait")
    assert refused.code == 2, refused
    assert _pasted(refused.err, "kubectl") == [label], refused.err  # the fix install gives, the same
    assert f"; {row['fix']}" in refused.err, refused.err
    if not output:
        table = cluster.kmeshctl("--context", "standin", "precheck", "-n", TEAM)
        assert table.code == 1 and "Pod Security level" in table.out, table.out
        assert "pod-security.kubernetes.io/enforce=privileged" in table.out, table.out


@pytest.mark.parametrize("labels,words", [
    ({"pod-security.kubernetes.io/enforce": "privileged"}, "enforces privileged"),
    ({"team": "h93"}, "enforces no level"),
], ids=["privileged", "none"])
def test_a_namespace_install_accepts_passes(cluster, labels, words) -> None:  # noqa: F811
    cluster.server.put(namespace_object(TEAM, labels), USER_MANAGER)
    result = cluster.kmeshctl("precheck", "-n", TEAM, "-o", "json")
    row = _row(result, "Pod Security")
    assert row["status"] == "pass" and row["fix"] is None and words in row["detail"], row
    assert result.code == 0, result.out


def test_install_s_own_and_a_missing_namespace_pass(cluster) -> None:  # noqa: F811
    absent = _row(cluster.kmeshctl("precheck", "-n", "kmesh-h93", "-o", "json"), "Pod Security")
    assert absent["status"] == "pass" and "does not exist: install creates it" in absent["detail"], absent
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait", "-q").code == 0
    own = _row(cluster.kmeshctl("precheck", "-o", "json"), "Pod Security")
    assert own["status"] == "pass" and "is kmeshctl's" in own["detail"], own


def test_uninstall_checks_have_no_pod_security_row(cluster) -> None:  # noqa: F811
    cluster.server.put(namespace_object(TEAM, {"pod-security.kubernetes.io/enforce": "restricted"}), USER_MANAGER)
    result = cluster.kmeshctl("precheck", "--uninstall", "-n", TEAM, "-o", "json")
    assert not [c for c in json.loads(result.out)["checks"] if c["name"].startswith("Pod Security")], result.out
