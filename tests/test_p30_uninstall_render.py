"""Pass 30 (issue 14), fixer F30-U: what uninstall's document says it did not read, what
--kubernetes-version leaves out of the install, -q's one rule for warnings, and
`waypoint apply --revision` (the Gateway's istio.io/rev label).

1. `uninstall --dry-run -o json|yaml` with no cluster configured: every field only the
   cluster could fill (absent, spared, nodes, enrolledNamespaces, keptWaypoints) is null,
   not `[]` ("nothing to worry about"); so are the two lists an error stopped the run
   before (docs/usage.md "Dry run and -o json|yaml").
2. `render` / `install --dry-run` with --kubernetes-version before 1.30 leave out the
   ValidatingAdmissionPolicy and its Binding: a warning on stderr (-q too) names them,
   why, and the command at 1.30; --help says the flag picks what is rendered.
3. -q keeps errors and the warnings that need a fix (a flag typed with no effect, a result
   short of the full one), drops notes on how the work went (the offline check's limits);
   `uninstall --dry-run --timeout` warns as `install --dry-run --timeout` does.
4. `waypoint apply -r/--revision R` labels the Gateway istio.io/rev=R (istioctl's flag):
   the istiod of that revision reads it and writes its status (upstream Istio >= 1.25 skips
   unlabelled Gateways unless it holds the `default` tag); the fixes keep --revision.

Real parts: kmeshctl.cli.main in-process, offline (no kubeconfig) or against the stand-in
API server the other uninstall tests use."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml

from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env  # noqa: F401
from test_cli_wait_limits import HELD, hold_on_delete
from test_p30_hints import offline  # noqa: F401 (fixture: no cluster configured at all)

XDS = "istiod.istio-system.svc:15012"
X = ["--xds-address", XDS, "--cluster-id", "c1"]
POLICY = "kmesh-pod-patch-own-node"
NOT_READ = ("absent", "spared", "nodes", "enrolledNamespaces", "keptWaypoints")


# ------------------------------------------------------------------ 1. null, not []


@pytest.mark.parametrize("form", ["json", "yaml"])
def test_offline_dry_run_document_says_null_for_what_it_could_not_read(form: str, capsys, offline) -> None:
    code, out, err = cli(capsys, "uninstall", "--dry-run", "-o", form)
    document = json.loads(out) if form == "json" else yaml.safe_load(out)
    assert code == 0 and document["checked"] is False and document["deleted"], (out, err)
    assert {field: document[field] for field in NOT_READ} == dict.fromkeys(NOT_READ), document
    assert document["errors"] == [], document
    if form == "yaml":
        assert "enrolledNamespaces: null" in out and "keptWaypoints: null" in out, out


def test_a_document_cut_by_an_error_has_null_for_the_lists_never_read(cluster) -> None:  # noqa: F811
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--no-wait").code == 0
    hold_on_delete(cluster.server, HELD)
    result = cluster.kmeshctl("uninstall", "--timeout", "1s", "-o", "json")
    document = json.loads(result.out)
    assert result.code == 1 and document["errors"], result
    assert document["enrolledNamespaces"] is None and document["keptWaypoints"] is None, document
    assert document["absent"] == [] and document["checked"] is True, document  # the cluster was read: lists
    checked = json.loads(cluster.kmeshctl("uninstall", "--dry-run", "-o", "json").out)  # a run that ends: lists
    assert checked["checked"] is True and all(checked[f] == [] for f in NOT_READ if f != "absent"), checked


# ------------------------------------------------------------------ 2. what --kubernetes-version leaves out


def _left_out_line(err: str) -> str:
    [line] = [line for line in err.splitlines() if "left out" in line]
    return line


@pytest.mark.parametrize("command", [["render"], ["install", "--dry-run"]], ids=" ".join)
@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["", "-q"])
def test_an_older_kubernetes_version_says_which_objects_it_leaves_out(command: list[str], quiet: list[str],
                                                                      capsys, offline) -> None:
    code, out, err = cli(capsys, *quiet, *command, *X, "--kubernetes-version", "1.28")
    assert code == 0 and "kind: DaemonSet" in out and "ValidatingAdmissionPolicy" not in out, err
    line = _left_out_line(err)
    assert line.startswith(f"Warning: ValidatingAdmissionPolicy {POLICY} and ValidatingAdmissionPolicyBinding "
                           f"{POLICY} left out: the guard that the agent may patch only pods on its own node "
                           "needs Kubernetes 1.30"), line
    assert "--kubernetes-version is 1.28" in line and "the agent may patch any pod" in line, line
    [again] = re.findall(r"`(kmeshctl [^`]*)`", line)
    words = shlex.split(again)
    assert words[1] == command[0] and words[words.index("--kubernetes-version") + 1] == "1.30", words
    assert set(X) <= set(words), words  # every flag typed kept
    code, out, err = cli(capsys, *words[1:])  # pasted: the full install, no warning
    assert code == 0 and "kind: ValidatingAdmissionPolicyBinding" in out and "left out" not in err, err


def test_a_v_prefixed_patch_version_is_named_as_it_is_read(capsys, offline) -> None:
    _, _, err = cli(capsys, "render", *X, "--kubernetes-version", "v1.29.4")
    assert "--kubernetes-version is 1.29," in _left_out_line(err), err


@pytest.mark.parametrize("command", [["render"], ["install"]], ids=" ".join)
def test_the_help_says_the_version_picks_what_is_rendered(command: list[str], capsys, no_env,  # noqa: F811
                                                          monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    _, out, _ = cli(capsys, *command, "--help")
    text = " ".join(out.split())
    assert "what is rendered (before 1.30 the ValidatingAdmissionPolicy" in text and "left out" in text, out


# ------------------------------------------------------------------ 3. -q: one rule


def test_quiet_drops_the_offline_checks_limits_and_keeps_a_flag_with_no_effect(capsys, offline) -> None:
    _, _, err = cli(capsys, "-q", "install", "--dry-run", *X)
    assert err == "", err  # not schema-validated offline: a note on how it was checked
    _, _, err = cli(capsys, "-q", "install", "--dry-run", *X, "--timeout", "5s")
    assert err.startswith("Warning: --timeout has no effect with --dry-run (nothing is changed"), err


@pytest.mark.parametrize("quiet", [[], ["-q"]], ids=["", "-q"])
def test_uninstall_dry_run_timeout_warns_as_install_does(quiet: list[str], capsys, offline) -> None:
    code, out, err = cli(capsys, *quiet, "uninstall", "--dry-run", "--timeout", "5s")
    assert code == 0 and out.strip().endswith("nothing deleted."), (out, err)
    assert "Warning: --timeout has no effect with --dry-run (nothing is changed, so nothing is waited for)" \
        in err.splitlines(), err
    _, _, err = cli(capsys, *quiet, "uninstall", "--dry-run")
    assert "Warning" not in err, err  # --timeout not typed: its default is no one's choice


def test_the_conventions_state_the_quiet_rule_once() -> None:
    text = " ".join((Path(__file__).parents[1] / "docs" / "usage.md").read_text().split())
    assert "silences every line on stderr but errors and the warnings that need a fix" in text
    assert "(`Warning: EnvoyFilter not schema-validated ...`: the manifests are whole, only checked less)" in text


# ------------------------------------------------------------------ 4. waypoint apply --revision


def _gateway(out: str) -> dict:
    return next(o for o in yaml.safe_load_all(out) if o and o["kind"] == "Gateway")


@pytest.mark.parametrize("flag", ["--revision", "-r"])
def test_waypoint_apply_revision_labels_the_gateway_only(flag: str, capsys, offline) -> None:
    code, out, err = cli(capsys, "waypoint", "apply", "-n", "default", flag, "1-22-6", "--dry-run")
    assert code == 0, err
    objects = [o for o in yaml.safe_load_all(out) if o]
    labelled = [o["kind"] for o in objects if "istio.io/rev" in (o["metadata"].get("labels") or {})]
    assert labelled == ["Gateway"] and _gateway(out)["metadata"]["labels"]["istio.io/rev"] == "1-22-6", out
    code, out, err = cli(capsys, "waypoint", "apply", "-n", "default", "--dry-run")
    assert code == 0 and "istio.io/rev" not in _gateway(out)["metadata"]["labels"], out


def test_waypoint_apply_refuses_a_revision_that_is_no_label(capsys, offline) -> None:
    code, out, err = cli(capsys, "waypoint", "apply", "-n", "default", "--revision", "1.22_x", "--dry-run")
    assert code == 2 and not out and len(err.strip().splitlines()) == 1, err
    assert "--revision 1.22_x: not a valid revision" in err and "did you mean --revision 1-22-x?" in err, err


def test_waypoint_apply_has_istioctls_revision_flag(capsys, offline, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = cli(capsys, "waypoint", "apply", "--help")
    text = " ".join(out.split())
    assert code == 0 and "-r, --revision REVISION" in text and "istio.io/rev label" in text, out


def test_the_wait_diagnosis_names_revision_and_the_image_fix_keeps_it() -> None:
    from kmeshctl.rollout import PodState
    from kmeshctl.waypoint import deploy

    bare = deploy.WaypointParams("ns", "wp")
    assert "`kmeshctl waypoint apply -n ns --name wp --revision REVISION`" in deploy.stuck_fix(bare, [], istiod=True)
    assert "--revision" not in deploy.stuck_fix(bare, [], istiod=False)
    pinned = deploy.WaypointParams("ns", "wp", revision="1-22-6")
    assert "--revision REVISION" not in deploy.stuck_fix(pinned, [], istiod=True)
    pulled = PodState("wp-1", "ns", "", "Pending", False, 0, "x", "ImagePullBackOff: Back-off pulling image", "")
    assert f"`kmeshctl waypoint apply -n ns --name wp --image {deploy.DEFAULT_IMAGE} --revision 1-22-6`" in \
        deploy.stuck_fix(pinned, [pulled])
