"""Issue 14, kind "a suggested command never carries an example value as if it were the
user's": kubectl's `install --dry-run=client` is answered with the offline form
(`kmeshctl render ...`) carrying this cluster's istiod address when it can be found
(or the address typed), else istiod's unrevisioned Service, istiod.istio-system.svc:15012,
which renders when pasted, and a note saying why and when to change it (pass 30).

Real parts: kmeshctl.cli.main in-process, against the stand-in API server (tests/standin)
or with no cluster configured at all."""

from __future__ import annotations

import shlex

from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)


def _offline_form(err: str) -> list[str]:
    return shlex.split(err.split("the offline (client) form is `")[1].split("`")[0])


def test_the_clusters_istiod_is_suggested(cluster) -> None:  # noqa: F811
    for spelling in (["--dry-run=client"], ["--dry-run", "client"]):
        result = cluster.kmeshctl("install", "--cluster-id", "c1", *spelling)
        assert result.code == 2, result
        words = _offline_form(result.err)
        assert words[-2:] == ["--xds-address", "istiod-1-22-6.istio-system.svc:15012"], result.err
        assert "ISTIOD_HOST" not in result.err, result.err


def test_the_typed_address_is_kept(cluster) -> None:  # noqa: F811
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--xds-address", "istiod.mesh.example:15012",
                              "--dry-run=client")
    assert _offline_form(result.err).count("--xds-address") == 1, result.err
    assert "--xds-address istiod.mesh.example:15012" in result.err, result.err


def test_without_a_cluster_the_unrevisioned_istiod_is_suggested(capsys, no_env, tmp_path,  # noqa: F811
                                                                 monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    code, _, err = cli(capsys, "install", "--cluster-id", "c1", "--dry-run=client")
    assert code == 2 and "istiod-1-22-6" not in err, err
    words = _offline_form(err)
    assert words[-2:] == ["--xds-address", "istiod.istio-system.svc:15012"], err
    assert "(istiod.istio-system.svc:15012 is istiod's Service without a revision, no cluster to look istiod up " \
           "in; with a revisioned istiod, istiod-REVISION.istio-system.svc:15012)" in err, err
    code, out, pasted = cli(capsys, *words[1:])  # pasted as is, it renders
    assert code == 0 and "kind: DaemonSet" in out, pasted
