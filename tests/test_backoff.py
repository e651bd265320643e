"""The one jittered back-off every reconnect and relist loop uses (kmeshctl/backoff.py)."""

from kmeshctl.backoff import jittered


def test_the_wait_is_the_upper_half_of_the_doubled_base_up_to_the_cap() -> None:
    assert jittered(0, 1.0, 30.0, rand=lambda: 0.0) == 0.5
    assert jittered(0, 1.0, 30.0, rand=lambda: 1.0) == 1.0
    assert jittered(3, 1.0, 30.0, rand=lambda: 0.0) == 4.0
    assert jittered(3, 1.0, 30.0, rand=lambda: 1.0) == 8.0
    assert jittered(10, 1.0, 30.0, rand=lambda: 1.0) == 30.0
    assert jittered(10_000, 0.1, 5.0, rand=lambda: 0.0) == 2.5  # huge counts do not overflow


def test_loops_that_failed_together_do_not_retry_together() -> None:
    assert len({jittered(2, 1.0, 30.0) for _ in range(20)}) > 1
    assert all(1.0 <= jittered(2, 1.0, 30.0) <= 4.0 for _ in range(100))
