"""Issue 14, kind "errors say what is wrong": the offline form suggested for kubectl's
`install --dry-run=client` carries istiod's unrevisioned Service when this cluster's istiod
cannot be named; with several istiod Services (one per ASM revision) the first, the note
listing them all (never "none was found"); the form runs as pasted, or with another of them.

Real parts: kmeshctl.cli.main in-process, against the stand-in API server (tests/standin)."""

from __future__ import annotations

import shlex

from standin_apiserver import make_cluster  # noqa: F401 (fixture)
from test_cli_kinds import cli  # noqa: F401

REVISIONS = ("istiod-1-22-6", "istiod-1-23-0")
FOUND = [f"{name}.istio-system.svc:15012" for name in REVISIONS]


def _offline_form(err: str) -> list[str]:
    return shlex.split(err.split("the offline (client) form is `")[1].split("`")[0])


def test_several_istiods_are_listed_with_the_flag_to_pick_one(make_cluster) -> None:  # noqa: F811
    cluster = make_cluster(istiod_names=REVISIONS)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run=client")
    assert result.code == 2 and result.err.count("\n") == 1, result
    assert f"(several istiod Services were found, {', '.join(FOUND)}: pick the one meant)" in result.err, result.err
    assert "none was found" not in result.err, result.err
    words = _offline_form(result.err)
    assert words[-2:] == ["--xds-address", FOUND[0]], result.err
    pasted = cluster.kmeshctl(*words[1:])
    assert pasted.code == 0 and FOUND[0] in pasted.out, pasted.err
    picked = cluster.kmeshctl(*words[1:-1], FOUND[1])
    assert picked.code == 0 and FOUND[1] in picked.out, picked.err


def test_none_found_still_says_none_was_found(make_cluster) -> None:  # noqa: F811
    cluster = make_cluster(istiod_names=())
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run=client")
    assert result.code == 2 and "(istiod.istio-system.svc:15012 is istiod's Service without a revision, none was " \
        "found; " in result.err, result
