"""A demo stopped during phase 1 before its first request says (in the same words)
what it made and how to remove it, as one stopped a second earlier does; one that sent
requests does not repeat it."""

from __future__ import annotations

from types import SimpleNamespace

from kmeshctl import demo
from kmeshctl.sandbox.manifests import default_files, load

MADE = "it created Service team-x/fortio, which stay (remove them: `kubectl delete -n team-x service/fortio`)"


def _report(sent: int) -> demo.DemoReport:
    subject = demo.demo_subject(load(default_files()))
    traffic = demo.TrafficCount()
    for index in range(1, sent + 1):
        traffic.add(demo.RequestResult(index, 0, 200, "1"))
    phase = demo._phase_report(subject, [90, 10], traffic, None)
    return demo.DemoReport("cluster", 20, [phase], subject, "cluster", planned=20)


def test_zero_requests_sent_in_phase_one_names_what_was_made() -> None:
    line = demo.stop_text(SimpleNamespace(how="Ctrl-C (SIGINT)"), _report(0), MADE)
    assert line == f"stopped by Ctrl-C (SIGINT) before any request was sent; {MADE}"  # one wording


def test_before_phase_one_it_was_already_said() -> None:
    line = demo.stop_text(SimpleNamespace(how="SIGTERM"), None, MADE)
    assert line == f"stopped by SIGTERM before any request was sent; {MADE}"


def test_requests_sent_the_objects_are_not_repeated() -> None:
    assert demo.stop_text(SimpleNamespace(how="SIGTERM"), _report(3), MADE) == \
        "stopped by SIGTERM (3 of 20 requests sent)"
