"""A weights record another host's run wrote with its clock ahead of this host's (its
`at` a few seconds in this host's future) is of a run still going, as a recent one is:
the next run refuses (busy) instead of restoring or dropping that run's weights."""

from __future__ import annotations

import time

from kmeshctl.demo_cluster import OTHER_HOST_RUN_S, ORIGINAL_WEIGHTS, WeightsRecord, running_elsewhere, weights_record

ROUTES = [{"route": [{"destination": {"host": "fortio", "subset": "v1"}, "weight": 100}]}]


def _read_back(at: float) -> WeightsRecord:
    written = WeightsRecord(ROUTES, ROUTES, "another-host-f20d", 4242, at)
    read = weights_record({"metadata": {"annotations": {ORIGINAL_WEIGHTS: written.to_json()}}})
    assert read is not None
    return read


def test_a_record_stamped_in_this_hosts_future_is_of_a_run_still_going() -> None:
    who = running_elsewhere(_read_back(time.time() + 5))
    assert who.startswith("pid 4242 on host another-host-f20d, "), who
    assert "-" not in who.split(", ")[-1], f"a negative age is said: {who}"


def test_records_younger_and_older_than_the_limit_are_told_apart() -> None:
    assert running_elsewhere(_read_back(time.time() - 10))
    assert running_elsewhere(_read_back(time.time() - OTHER_HOST_RUN_S - 5)) == ""
