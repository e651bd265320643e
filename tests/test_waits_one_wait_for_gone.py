"""f19b: `uninstall` and `waypoint delete` each had their own loop waiting for a deleted
object to go (poll until gone or the deadline, then one more look after the deadline
before the error). One wait, kmeshctl.waits.wait_gone, serves both now; these pin what
it does (the looks, the sleeps, when it gives up, what it hands to the caller) and that
both commands' words are unchanged.

Real parts: kmeshctl.waits, kmeshctl.uninstall.wait_gone and waypoint delete's wait, with
a scripted client (no cluster) and a fake clock."""

from __future__ import annotations

from typing import Any, Optional

import pytest

from kmeshctl import uninstall, waits
from kmeshctl.errors import KmeshctlError
from kmeshctl.waypoint import deploy

HELD = {"metadata": {"name": "kmesh", "namespace": "kmesh-system", "finalizers": ["f19b.test/hold"]}}
ACCOUNT = next(o for o in uninstall.installed_objects("kmesh-system", "istio-system")
               if o["kind"] == "ServiceAccount")
GATEWAY = {"apiVersion": deploy.GATEWAY_API, "kind": "Gateway",
           "metadata": {"name": "waypoint", "namespace": "default"}}


class _Clock:
    """time.monotonic and time.sleep as waits sees them: a sleep moves the clock on."""

    def __init__(self) -> None:
        self.now, self.slept = 100.0, []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(waits.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(waits.time, "sleep", fake.sleep)
    return fake


class _Looks:
    """The object as read: there for ``present`` looks, then gone (None)."""

    def __init__(self, present: int, obj: Optional[dict] = None) -> None:
        self.present, self.looks, self.obj = present, 0, obj or HELD

    def __call__(self, *_: Any) -> Optional[dict]:
        self.looks += 1
        return self.obj if self.looks <= self.present else None

    get = __call__  # as a KubeClient's get


def _never(current: dict) -> KmeshctlError:
    raise AssertionError(f"gave up on {current}")


def test_gone_at_the_first_look_returns_without_sleeping(clock) -> None:
    read = _Looks(0)
    waits.wait_gone(read, clock.now + 10, 0.5, _never)
    assert read.looks == 1 and clock.slept == []


def test_it_looks_every_poll_until_gone_within_the_deadline(clock) -> None:
    read, seen = _Looks(3), []
    waits.wait_gone(read, clock.now + 10, 0.5, _never, seen.append)
    assert read.looks == 4 and clock.slept == [0.5, 0.5, 0.5] and seen == [HELD] * 3


def test_past_the_deadline_it_still_looks_a_second_time(clock) -> None:
    read = _Looks(1)
    waits.wait_gone(read, clock.now - 1, 0.5, _never)  # the deadline passed before the first look
    assert read.looks == 2 and clock.slept == [0.5]


def test_it_gives_up_at_the_first_look_after_the_deadline_from_the_second_on(clock) -> None:
    read = _Looks(100)
    with pytest.raises(KmeshctlError, match="held: f19b.test/hold"):
        waits.wait_gone(read, clock.now + 1.2, 0.5, lambda c: KmeshctlError(f"held: {c['metadata']['finalizers'][0]}"))
    assert read.looks == 4 and clock.slept == [0.5, 0.5, 0.5]  # looks at 100, 100.5, 101, 101.5 (past 101.2)


def test_what_read_raises_goes_to_the_caller(clock) -> None:
    def refused() -> Optional[dict]:
        raise KmeshctlError("refused")

    with pytest.raises(KmeshctlError, match="refused"):
        waits.wait_gone(refused, clock.now + 10, 0.5, _never)


# -- both commands wait with it, their words unchanged ---------------------------------------------


def _deletion(client: Any, deadline: float, again: str) -> Any:
    """waypoint delete's run of waypoint default/waypoint, its --timeout 1s."""
    return deploy._Deletion(client, deploy.WaypointParams(), lambda ref, outcome: None, lambda ref: None,
                            lambda ref, ns: None, False, deadline, 1.0, again)


def test_both_commands_wait_with_the_one_wait(monkeypatch) -> None:
    calls: list[tuple[float, float]] = []
    monkeypatch.setattr(waits, "wait_gone", lambda read, deadline, poll, *rest: calls.append((deadline, poll)))
    uninstall.wait_gone(_Looks(5), ACCOUNT, 42.0, poll=0.25)  # type: ignore[arg-type]
    monkeypatch.setattr(deploy, "GONE_POLL_S", 0.125)
    run = _deletion(_Looks(5), 7.0, "kmeshctl waypoint delete")
    run.wait_gone(GATEWAY)
    assert calls == [(42.0, 0.25), (7.0, 0.125)]


def test_uninstalls_words_are_unchanged(clock, monkeypatch) -> None:
    monkeypatch.setattr(uninstall, "WAITING_NOTE_AFTER_S", 0.4)
    notes: list[str] = []
    read = _Looks(100)
    with pytest.raises(KmeshctlError) as late:
        uninstall.wait_gone(read, ACCOUNT, clock.now + 1, poll=0.25, timeout=60,  # type: ignore[arg-type]
                            on_wait=notes.append, again="kmeshctl uninstall -n kmesh-system")
    assert read.looks == 5, read.looks
    assert notes == ["waiting for ServiceAccount kmesh-system/kmesh to go (finalizers: f19b.test/hold), limit 1m"]
    assert str(late.value) == (
        "ServiceAccount kmesh-system/kmesh still exists after the --timeout 1m limit (finalizers: f19b.test/hold); "
        "check what holds it with `kubectl get serviceaccount kmesh -n kmesh-system -o "
        "jsonpath='{.metadata.finalizers}'`, then re-run `kmeshctl uninstall -n kmesh-system` (it is safe to "
        "repeat), with a longer --timeout if it was only slow"), str(late.value)


def test_waypoint_deletes_words_are_unchanged(clock, monkeypatch) -> None:
    monkeypatch.setattr(deploy, "GONE_POLL_S", 0.5)
    read = _Looks(100, {"metadata": {"name": "waypoint", "namespace": "default", "finalizers": ["f19b.test/hold"]}})
    run = _deletion(read, clock.now + 1, "kmeshctl waypoint delete -n default")
    with pytest.raises(KmeshctlError) as late:
        run.wait_gone(GATEWAY)
    assert read.looks == 3 and clock.slept == [0.5, 0.5], (read.looks, clock.slept)
    assert str(late.value).startswith(
        "Gateway default/waypoint still exists after the --timeout 1s limit (finalizers: f19b.test/hold); see what "
        "holds it with `kubectl describe gateway.gateway.networking.k8s.io waypoint -n default`, then re-run `kmeshctl waypoint delete -n "
        "default` (with a longer --timeout if it was only slow)"), str(late.value)
