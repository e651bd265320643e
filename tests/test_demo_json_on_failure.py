"""Kind "the demo's -o json on a failure": a run that fails once its target is prepared
prints its one document (`error` the error line's words, totals the requests sent; the
root test in tests/test_demo.py freezes a sandbox's control plane for that); a refusal
before it, nothing changed and nothing sent, prints no document, only the error line, as
an unreachable cluster does. The API-server stand-in, no root."""

from __future__ import annotations

from test_demo_cluster_refusals import make  # noqa: F401

DEMO = ("--context", "standin", "demo", "traffic-shift", "--target", "cluster", "-c", "3", "-q", "-o", "json")


def test_a_refusal_before_the_run_prints_no_document(make) -> None:  # noqa: F811
    cluster = make(kmesh=None)
    result = cluster.kmeshctl(*DEMO)
    assert result.code == 1 and result.out == ""
    assert result.err.startswith("Error: kmesh is not installed"), result.err


def test_a_cluster_that_does_not_answer_prints_no_document(make) -> None:  # noqa: F811
    cluster = make()
    cluster.server.stop()
    result = cluster.kmeshctl(*DEMO)
    assert result.code == 1 and result.out == ""
    assert result.err.startswith("Error: "), result.err
