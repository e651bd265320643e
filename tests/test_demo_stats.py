"""The demo's pieces that need no root: the split statistics, weight parsing, the
request-loop script (run for real with a local curl against a loopback echo server),
and the demo subject read from examples/fortio."""

from __future__ import annotations

import math
import subprocess
import threading
from http.server import ThreadingHTTPServer

import pytest

from kmeshctl import demo
from kmeshctl.errors import UsageError
from kmeshctl.sandbox.echo_server import EchoHandler
from kmeshctl.sandbox.manifests import default_files, load
from kmeshctl.splitstats import binomial_two_sided, chi_square_sf, split_test


def _subject() -> demo.DemoSubject:
    return demo.demo_subject(load(default_files()))


def test_subject_maps_subsets_to_server_headers() -> None:
    subject = _subject()
    assert subject.versions == (demo.Version("v1", "1"), demo.Version("v2", "2"))
    assert subject.default_weights == (90, 10)


def test_weight_sets_are_parsed_and_checked() -> None:
    subject = _subject()
    assert demo.parse_weight_sets(None, subject) == [[90, 10]]
    assert demo.parse_weight_sets("90/10,50/50,0/100", subject) == [[90, 10], [50, 50], [0, 100]]
    for bad in ("90/20", "90", "a/b", "110/-10", "30/30/40", "90/10, 50/50"):  # numbers are plain: no spaces
        with pytest.raises(UsageError):
            demo.parse_weight_sets(bad, subject)


def test_binomial_matches_known_values() -> None:
    # P(X <= 0) + P(X >= 10) for X ~ Bin(10, 0.5) = 2/1024
    assert binomial_two_sided(0, 10, 0.5) == pytest.approx(2 / 1024)
    # Symmetric case: every outcome at least as extreme as the mean -> 1
    assert binomial_two_sided(5, 10, 0.5) == pytest.approx(1.0)
    # Bin(20, 0.1), observed 2 (the mode): p = 1
    assert binomial_two_sided(2, 20, 0.1) == pytest.approx(1.0)


def test_chi_square_matches_known_values() -> None:
    assert chi_square_sf(3.841458820694124, 1) == pytest.approx(0.05, rel=1e-6)
    assert chi_square_sf(2.0, 2) == pytest.approx(math.exp(-1.0), rel=1e-9)
    assert chi_square_sf(11.344866730144373, 3) == pytest.approx(0.01, rel=1e-6)
    assert chi_square_sf(0.0, 4) == 1.0


def test_split_test_accepts_plausible_and_rejects_implausible_splits() -> None:
    assert split_test({"1": 887, "2": 113}, {"1": 90, "2": 10}).p_value > 0.05
    assert split_test({"1": 500, "2": 500}, {"1": 90, "2": 10}).p_value < 1e-100
    assert split_test({"2": 100}, {"1": 0, "2": 100}).p_value == 1.0
    assert split_test({"1": 1, "2": 99}, {"1": 0, "2": 100}).p_value == 0.0
    assert split_test({"1": 90, "2": 9, "envoy": 1}, {"1": 90, "2": 10}).p_value == 0.0
    three = split_test({"a": 30, "b": 40, "c": 30}, {"a": 1, "b": 1, "c": 1})
    assert three.test == "chi-square" and three.p_value == pytest.approx(math.exp(-1.0))
    assert split_test({}, {"1": 90, "2": 10}) is None


def test_report_passes_only_without_failures_and_with_a_plausible_split() -> None:
    subject = _subject()
    good = demo.TrafficCount(20, 0, {"1": 18, "2": 2})
    report = demo.DemoReport("local", 20, [demo._phase_report(subject, [90, 10], good, None)], subject, "demo")
    assert report.passed
    data = report.to_json()
    assert (data["schema"], data["target"], data["sandbox"], data["requests"], data["failures"], data["passed"]) == (
        demo.SCHEMA, "local", "demo", 20, 0, True)
    (phase,) = data["phases"]
    # counts keyed by subset, like the weights; the servers' own numbers kept beside
    assert phase["weights"] == {"v1": 90, "v2": 10} and phase["counts"] == {"v1": 18, "v2": 2}
    assert phase["counts_by_server"] == {"1": 18, "2": 2}
    assert phase["configured_share"] == {"v1": 0.9, "v2": 0.1} and phase["observed_share"] == {"v1": 0.9, "v2": 0.1}
    assert phase["test"] == "binomial" and phase["consistent"]
    # rounded to 4 significant digits (issue 14, fifth pass): 0.9999999999999994 is shown as 1.0
    assert phase["p_value"] == demo.shown_p_value(report.phases[0].p_value) == 1.0
    failed_change = demo.TrafficCount(30, 1, {"1": 29})
    second = demo._phase_report(subject, [0, 100], demo.TrafficCount(5, 0, {"2": 5}), failed_change)
    report.phases.append(second)
    assert report.failures == 1 and not report.passed
    skewed = demo.DemoReport("local", 100, [demo._phase_report(
        subject, [90, 10], demo.TrafficCount(100, 0, {"1": 50, "2": 50}), None)])
    assert not skewed.passed


@pytest.fixture()
def echo_url():
    handler = type("Handler", (EchoHandler,), {"default_params": "header=server:7"})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_request_loop_prints_one_line_per_request(echo_url: str) -> None:
    out = subprocess.run(demo.loop_argv(echo_url, 3), capture_output=True, text=True, timeout=30).stdout
    results = [demo.parse_result_line(line) for line in out.splitlines()]
    assert results == [demo.RequestResult(i, 0, 200, "7") for i in (1, 2, 3)]
    assert all(r.ok for r in results)


def test_request_loop_reports_failures_and_stops_on_its_stop_file(tmp_path) -> None:
    # Nothing listens on 127.0.0.1:1: connection refused, curl exit 7.
    stop = tmp_path / "stop"
    loop = subprocess.Popen(demo.loop_argv("http://127.0.0.1:1/", 0, str(stop), 30),
                            stdout=subprocess.PIPE, text=True)
    first = demo.parse_result_line(loop.stdout.readline())
    stop.touch()
    loop.wait(timeout=10)
    assert first is not None and not first.ok and first.curl_exit == 7 and first.status == 0
    assert not stop.exists()  # the loop removes its stop file


def test_parse_result_line_ignores_noise() -> None:
    assert demo.parse_result_line("curl: (7) Failed to connect") is None
    assert demo.parse_result_line("4 0 200 1") == demo.RequestResult(4, 0, 200, "1")


def test_echo_debug_says_who_asked_like_fortio(echo_url: str) -> None:
    # The sandbox tests ask the backends' peer through /debug, which real fortio answers
    # with `... request from IP:port`: the built-in echo server answers it the same way.
    out = subprocess.run(["curl", "-sS", "-w", "\nlocal port %{local_port}", echo_url + "debug"],
                         capture_output=True, text=True, timeout=30).stdout
    body, _, port = out.rpartition("\nlocal port ")
    assert port.isdigit() and f"request from 127.0.0.1:{port}" in body and "GET /debug HTTP/1.1" in body
