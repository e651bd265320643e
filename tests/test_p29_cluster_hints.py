"""Pass-29 new-user findings on cluster commands (fixer F29-C), in-process through
kmeshctl.cli.main; no real cluster: a kubeconfig at a closed loopback port, none at all,
or the stand-in API server (tests/standin) where the online check is compared:

- 4: `install --revision R` with a cluster that does not answer says so (never "no istiod
  Service was found") and offers `--xds-address istiod-R.istio-system.svc:15012`;
- 6: offline (render, `install --dry-run` with no cluster) the xDS addresses the online
  check refuses without a doubt are refused in its words, with the line to paste;
- 7: `render ... --dry-run client`: the line offered drops `client` with the flag;
- 8: every namespace word of `enable-ns` / `disable-ns` mended in the one line offered (`-n a,b`:
  a b);
- 10: `version -q` with no cluster: nothing on stderr;
- 12: render's warning offers `install --dry-run` with `--context` when the kubeconfig has
  no current-context;
- 14: a --crd-file schema that refuses an object says `an object`, never its repr.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from kmeshctl.validate import CrdSchemas
from standin_apiserver import cluster, istiod_service, make_cluster  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env, state_root  # noqa: F401 (fixture)
from test_p23_command_hints import _line, stubbed  # noqa: F401 (fixture)
from test_p23_command_hints import _pasted_lines as _pasted
from test_p26_habits import kubeconfig, offline  # noqa: F401 (fixtures)

XDS = "istiod.istio-system.svc:15012"
USER = "kubectl-create"


# ------------------------------------------------------------------ 4. --revision, cluster not answering


@pytest.mark.parametrize("extra", [(), ("--dry-run",)], ids=["install", "dry-run"])
@pytest.mark.parametrize("how", ["flag", "env"])
def test_revision_with_a_cluster_that_does_not_answer_says_so(how, extra, kubeconfig, stubbed, capsys,  # noqa: F811
                                                              monkeypatch, no_env) -> None:  # noqa: F811
    """(p29: it said `no istiod Service was found in the cluster: is Istio installed?`, no line.)"""
    globals_ = ["--kubeconfig", kubeconfig] if how == "flag" else []
    if how == "env":
        monkeypatch.setenv("KUBECONFIG", kubeconfig)
    line = _line(capsys, *globals_, "install", "--cluster-id", "c1", *extra, "--revision", "1-22-6")
    assert "the cluster could not be reached to look istiod up" in line and "no istiod Service" not in line, line
    [pasted] = _pasted(line)
    assert pasted[-2:] == ["--xds-address", "istiod-1-22-6.istio-system.svc:15012"], line
    assert [w for w in extra if w not in pasted] == [], line


def test_revision_with_no_cluster_says_so_too(offline, stubbed, capsys) -> None:  # noqa: F811
    line = _line(capsys, "install", "--cluster-id", "c1", "--revision", "1-22-6")
    assert "no cluster to look istiod up in" in line, line
    assert _pasted(line) == [["kmeshctl", "install", "--cluster-id", "c1", "--xds-address",
                              "istiod-1-22-6.istio-system.svc:15012"]], line


# ------------------------------------------------------------------ 6. xDS addresses refused offline

OFFLINE_REFUSED = [
    ("istiod.istio-system.svc:15014", "port 15014 of Service istio-system/istiod (http-monitoring) is not istiod's "
                                      "xDS port (15012, TLS)", XDS),
    ("istiod-1-22-6.istio-system.svc:443", "port 443 of Service istio-system/istiod-1-22-6 (https-webhook) is not "
                                           "istiod's xDS port (15012, TLS)", "istiod-1-22-6.istio-system.svc:15012"),
    ("istiod.istio-system.svc.cluster.local:15012", "istiod's certificate names the Service by its DNS name "
     "istiod.istio-system.svc, not istiod.istio-system.svc.cluster.local (the agents' TLS check would fail)", XDS),
    ("istiod.istio-system:15012", "istiod's certificate names the Service by its DNS name istiod.istio-system.svc, "
                                  "not istiod.istio-system (the agents' TLS check would fail)", XDS),
    ("istiod.istio-system.svc.cluster.local:15014", "port 15014 of Service istio-system/istiod (http-monitoring)", XDS),
]


@pytest.mark.parametrize("address,problem,meant", OFFLINE_REFUSED, ids=[a for a, _, _ in OFFLINE_REFUSED])
@pytest.mark.parametrize("command", [["render"], ["install", "--dry-run"]], ids=["render", "install-dry-run"])
def test_offline_an_address_istiod_never_answers_on_is_refused_with_the_line(command, address, problem, meant,
                                                                             offline, capsys) -> None:  # noqa: F811
    """(p29: exit 0, the manifests printed with an address the agents cannot use.)"""
    line = _line(capsys, *command, "--cluster-id", "c1", "--xds-address", address)
    assert line.startswith(f"Error: --xds-address {address}: {problem}"), line
    [pasted] = _pasted(line)
    assert pasted == ["kmeshctl", command[0], "--xds-address", meant, "--cluster-id", "c1", *command[1:]], line
    code, out, err = cli(capsys, *pasted[1:])
    assert code == 0 and out, err


def test_offline_only_what_a_cluster_would_refuse_for_sure_is_refused(offline, capsys) -> None:  # noqa: F811
    """Another Service, an outside host or an IP is the cluster's to judge: it passes offline."""
    for address in ["istiod.corp:15012", "10.0.0.7:15012", "xds.mesh.svc:15014", "istiod.other-ns:15012",
                    "istiod-gw.istio-system.svc:15443"]:
        code, out, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", address)
        assert code == 0 and out, err
    code, _, err = cli(capsys, "render", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15014")
    assert code == 2, err


@pytest.mark.parametrize("address,problem", [
    ("istiod-1-22-6.istio-system.svc:15014", "port 15014 of Service istio-system/istiod-1-22-6 (http-monitoring) is "
                                             "not istiod's xDS port (15012, TLS)"),
    ("istiod-1-22-6.istio-system.svc.cluster.local:15012", "istiod's certificate names the Service by its DNS name "
     "istiod-1-22-6.istio-system.svc, not istiod-1-22-6.istio-system.svc.cluster.local"),
])
def test_offline_words_are_the_online_ones(address, problem, cluster, offline, capsys) -> None:  # noqa: F811
    service = istiod_service("istiod-1-22-6")
    service["spec"]["ports"].append({"name": "http-monitoring", "port": 15014, "protocol": "TCP"})
    cluster.server.put(service, USER)
    online = cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address", address, "--dry-run")
    assert online.code == 2 and problem in online.err, online
    line = _line(capsys, "render", "--cluster-id", "c1", "--xds-address", address)
    assert online.err.partition("; use ")[0] == line.partition("; use ")[0], (online.err, line)


# ------------------------------------------------------------------ 7. `--dry-run client` on render


@pytest.mark.parametrize("dry_run", [["--dry-run", "client"], ["--dry-run", "server"], ["--dry-run=client"]])
def test_the_line_without_dry_run_drops_its_mode_word(dry_run, stubbed, capsys, offline) -> None:  # noqa: F811
    line = _line(capsys, "render", "--cluster-id", "c1", "--xds-address", XDS, *dry_run)
    assert _pasted(line) == [["kmeshctl", "render", "--cluster-id", "c1", "--xds-address", XDS]], line


# ------------------------------------------------------------------ 8. every namespace word mended


@pytest.mark.parametrize("command", ["enable-ns", "disable-ns"])
@pytest.mark.parametrize("words,meant", [
    (["ns/foo", "ns/bar"], ["foo", "bar"]),
    (["Foo", "Bar"], ["foo", "bar"]),
    (["foo,bar"], ["foo", "bar"]),
    (["ok", "ns/foo", "ns/foo"], ["ok", "foo"]),  # a repeat said once (p48 f48b)
    (["namespace/a,B_c", "d"], ["a", "b-c", "d"]),
])
def test_every_namespace_word_is_mended_in_the_one_line(command, words, meant, offline, capsys) -> None:  # noqa: F811
    line = _line(capsys, command, *words)
    assert _pasted(line) == [["kmeshctl", command, *meant]], line


@pytest.mark.parametrize("typed,meant", [(["-n", "foo,bar"], ["foo", "bar"]),
                                         (["--namespace=a,b", "c"], ["a", "b", "c"]), (["-n", "foo", "foo"], ["foo"])])
def test_a_namespace_flag_list_becomes_one_word_each(typed, meant, offline, capsys) -> None:  # noqa: F811
    line = _line(capsys, "enable-ns", *typed)
    assert _pasted(line) == [["kmeshctl", "enable-ns", *meant]], line


def test_a_word_that_means_no_name_is_named_alone(offline, capsys) -> None:  # noqa: F811
    line = _line(capsys, "enable-ns", "ns/foo", "bad!")
    assert "namespace 'bad!': not a valid namespace name" in line and "e.g. default" in line, line


# ------------------------------------------------------------------ 10. version -q


@pytest.mark.parametrize("args", [["-q", "version"], ["version", "-q"], ["--quiet", "version"]])
def test_version_quiet_with_no_cluster_prints_nothing_on_stderr(args, offline, capsys) -> None:  # noqa: F811
    code, out, err = cli(capsys, *args)
    assert code == 0 and out.startswith("Client: ") and err == "", (out, err)
    code, _, err = cli(capsys, "version")
    assert code == 0 and err.startswith("Cluster: none configured"), err


# ------------------------------------------------------------------ 12. no current-context


def _kubeconfig(tmp_path: Path, contexts: list[str], current: str = "") -> str:
    path = tmp_path / "f29c-nocur.yaml"
    listed = "".join(f"- name: {name}\n  context: {{cluster: c, user: u}}\n" for name in contexts)
    path.write_text("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n"
                    f"contexts:\n{listed}users:\n- name: u\n  user: {{token: x}}\n"
                    + (f"current-context: {current}\n" if current else ""))
    return str(path)


def _warning(capsys, *args: str) -> str:
    code, out, err = cli(capsys, *args)
    assert code == 0 and out, err
    [line] = [line for line in err.splitlines() if line.startswith("Warning:")]
    return line


@pytest.mark.parametrize("current", ["", "gone"], ids=["none", "not-a-context"])
def test_render_offers_the_one_context_when_there_is_no_current_one(current, tmp_path, offline,  # noqa: F811
                                                                    capsys) -> None:
    config = _kubeconfig(tmp_path, ["other"], current)
    line = _warning(capsys, "--kubeconfig", config, "render", "--xds-address", XDS, "--cluster-id", "c1")
    [pasted] = _pasted(line)
    assert pasted[pasted.index("--context") + 1] == "other", line
    code, _, err = cli(capsys, *pasted[1:])  # now it asks the cluster (closed port): not refused by the kubeconfig
    assert code == 1 and "cannot reach the Kubernetes API" in err and "current-context" not in err, err


def test_render_names_no_context_when_the_kubeconfig_has_its_own(kubeconfig, tmp_path, offline,  # noqa: F811
                                                                 capsys) -> None:
    line = _warning(capsys, "--kubeconfig", kubeconfig, "render", "--xds-address", XDS, "--cluster-id", "c1")
    assert "--context" not in line, line
    line = _warning(capsys, "--kubeconfig", _kubeconfig(tmp_path, ["solo"]), "render", "--xds-address", XDS,
                    "--cluster-id", "c1")
    assert "--context solo" in line, line


def test_render_names_the_contexts_to_choose_from(tmp_path, offline, capsys) -> None:  # noqa: F811
    config = _kubeconfig(tmp_path, ["a", "b"])
    line = _warning(capsys, "--kubeconfig", config, "render", "--xds-address", XDS, "--cluster-id", "c1")
    assert "--context CONTEXT" in line and "replace CONTEXT with one of its contexts, a, b" in line, line


# ------------------------------------------------------------------ 14. a CRD schema refusing an object

STRICT_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: envoyfilters.networking.istio.io}
spec:
  group: networking.istio.io
  names: {kind: EnvoyFilter, plural: envoyfilters}
  scope: Namespaced
  versions:
  - name: v1alpha3
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: string}
"""


def test_a_crd_file_refusing_an_object_never_echoes_it(tmp_path, offline, capsys) -> None:  # noqa: F811
    """(p29: `spec: {'workloadSelector': ... (2853 characters cut) ...} is not of type 'string'`.)"""
    crd = tmp_path / "ef-strict.yaml"
    crd.write_text(STRICT_CRD)
    line = _line(capsys, "render", "--xds-address", XDS, "--cluster-id", "c1", "--crd-file", str(crd))
    assert f"EnvoyFilter/add-listener-filter: spec: an object, not of type string (the CRD schema of --crd-file " \
           f"{crd})" in line, line
    assert "{'" not in line and "characters cut" not in line and "unknown field" not in line, line


def test_a_list_is_called_a_list_and_a_scalar_is_shown() -> None:
    from kmeshctl.validate import validate_offline

    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "names": {"type": "string"}, "n": {"type": "integer"}, "tags": {"type": "array", "maxItems": 1}}}}}
    crd = {"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
           "metadata": {"name": "widgets.example.io"},
           "spec": {"group": "example.io", "names": {"kind": "Widget", "plural": "widgets"},
                    "versions": [{"name": "v1", "served": True, "schema": {"openAPIV3Schema": schema}}]}}
    widget = {"apiVersion": "example.io/v1", "kind": "Widget", "metadata": {"name": "w", "namespace": "default"},
              "spec": {"names": ["a", "b"], "n": "one", "tags": ["x", "y"]}}
    from kmeshctl.validate import ValidationError, validate_manifests

    with pytest.raises(ValidationError) as raised:
        validate_manifests([widget], "1.30", CrdSchemas.from_crd_objects([crd]))
    assert raised.value.problems == ["Widget/w: spec.n: 'one' is not of type 'integer'",
                                     "Widget/w: spec.names: a list, not of type string",
                                     "Widget/w: spec.tags: a list is too long"], raised.value.problems
    assert validate_offline([widget], "1.30", None) == ["Widget"]

