"""Issue 10 item 11: what the agent says about control-plane input has a bounded size.
A 1 MiB resource name gives a NACK of at most 4 KiB and log lines of a few KiB, which
still name the resource (its start) and say how long the name was."""

from __future__ import annotations

import logging

import pytest

from kmeshctl.node.agent import OneLineFormatter
from kmeshctl.bounded import DETAIL_LIMIT, LINE_LIMIT, NAME_LIMIT, clip, join_bounded
from kmeshctl.node.workload_cache import WorkloadCache
from kmeshctl.xds import WORKLOAD_ADDRESS_TYPE
from kmeshctl.xds.builders import addresses, service, workload
from kmeshctl.xds.client import ClientConfig, Identity, XdsClient
from kmeshctl.xds.protos import workload_pb2
from kmeshctl.xds.server import XdsServer

MIB = 1 << 20
LOG_BOUND = DETAIL_LIMIT + 512  # a NACK's detail plus the fields around it


def test_clip_keeps_short_text_and_marks_the_cut() -> None:
    assert clip("default/web") == "default/web"
    clipped = clip("n" * MIB)
    assert len(clipped) == NAME_LIMIT and clipped.endswith(f"...[{MIB} chars]")
    assert clipped.startswith("n" * 200)
    assert clip("x" * 300, 40) == "x" * 26 + "...[300 chars]"  # 40 chars in all


def test_join_bounded_counts_what_it_leaves_out() -> None:
    assert join_bounded(["a: bad", "b: bad"]) == "a: bad; b: bad"
    many = join_bounded([f"pod-{i}: address 0 has 5 bytes" for i in range(1000)])
    assert len(many) <= DETAIL_LIMIT and many.startswith("pod-0: address 0 has 5 bytes; pod-1:")
    assert many.endswith(" more") and "...and 8" in many  # about 130 fit: 8xx left out
    huge = join_bounded(["h" * MIB, "second"])  # the huge one is clipped, leaving room for the next
    assert len(huge) <= DETAIL_LIMIT and huge.startswith("hhh") and huge.endswith(f"...[{MIB} chars]; second")


def test_a_log_line_never_exceeds_the_line_limit() -> None:
    record = logging.LogRecord("kmeshctl.xds.client", logging.WARNING, __file__, 1,
                               "event=x name=%s", ("n\n" * MIB,), None)
    line = OneLineFormatter().format(record)
    assert len(line) == LINE_LIMIT and "\n" not in line
    assert "level=warning logger=kmeshctl.xds.client event=x name=n\\nn\\n" in line
    assert line.endswith(" chars]")  # how long the line would have been


@pytest.fixture
def agent_and_server():
    server = XdsServer()
    server.add_listener("127.0.0.1:0")
    server.start()
    cache = WorkloadCache()
    client = XdsClient(ClientConfig(server.addresses[0], Identity("10.1.0.1", "agent", "kmesh-system"),
                                    insecure=True, token_path=None), cache, lambda delta: None)
    client.start()
    assert client.synced.wait(5)
    yield server, client, cache
    client.stop()
    server.stop()


def test_a_1_mib_name_gives_a_bounded_nack_and_bounded_logs(
        agent_and_server, caplog: pytest.LogCaptureFixture) -> None:
    server, client, cache = agent_and_server
    long_uid = "Kubernetes//Pod/default/" + "p" * MIB
    bad_pod = workload(long_uid, "10.0.0.9", {})
    bad_pod.addresses[0] = b"\x0a\x00\x00\x09\x00"  # 5 bytes: refused
    long_host = "h" * MIB + ".default.svc.cluster.local"
    misnamed = workload_pb2.Address(service=service("default", long_host, "10.96.0.9", [(80, 80)]))
    good = workload("Kubernetes//Pod/default/ok-0", "10.0.0.10", {})
    caplog.set_level(logging.DEBUG, logger="kmeshctl")
    server.set_resources(WORKLOAD_ADDRESS_TYPE, {**addresses(bad_pod, good), "default/other-name": misnamed})

    nack = server.wait_nacked(WORKLOAD_ADDRESS_TYPE)
    assert nack is not None and len(nack.error_message) <= DETAIL_LIMIT
    problems = nack.error_message.split("; ")
    assert problems[0].startswith("Kubernetes//Pod/default/ppp") and f"...[{len(long_uid)} chars]" in problems[0]
    assert problems[0].endswith(": address 0 has 5 bytes (want 4 or 16)")
    assert problems[1].startswith("default/other-name: resource name does not match namespace/hostname default/hhh")
    assert f"...[{len('default/' + long_host)} chars]" in problems[1]
    assert "Kubernetes//Pod/default/ok-0" in cache.workloads  # the valid one went in
    assert len(client.stats.last_error) <= DETAIL_LIMIT

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("kmeshctl")]
    assert any("event=xds_nack" in line for line in lines) and any(" NACK " in line for line in lines)
    assert max(len(line) for line in lines) <= LOG_BOUND
