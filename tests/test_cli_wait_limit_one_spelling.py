"""Helper h109, kind "two spellings of one thing": a wait's limit read `300 s limit`
(install's rollout, `waited 12 s of 300 s limit`; enable-ns --wait, `(0 s of 60 s
limit)`; the agent admin wait, `(up to 10 s)`) where waypoint apply and uninstall said
`limit 5m` (asciinum.limit_words). Now every progress line of a wait spells the time
waited and its limit one way, asciinum.waited_words: `12s, limit 5m`, `12s, no limit`;
the rollout's timeout error names the limit as typed (`not ready after 5m`).

Real parts: rollout.wait_for_rollout's plain lines (a CI log) on a Console writing to a
buffer, with a client that answers as a stuck DaemonSet would; the kmeshctl sources and
the docs read as they are."""

from __future__ import annotations

import io
import math
import re
from pathlib import Path

import pytest
from rich.console import Console

from kmeshctl import rollout
from kmeshctl.asciinum import limit_words, waited_words

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("waited, timeout, words", [
    (12.4, 300, "12s, limit 5m"), (0, 90, "0s, limit 1m30s"), (3, 1.5, "3s, limit 1.5s"),
    (7, math.inf, "7s, no limit"), (7, 0, "7s, no limit")])
def test_waited_words_is_limit_words_with_the_time_waited(waited: float, timeout: float, words: str) -> None:
    assert waited_words(waited, timeout) == words
    assert words.endswith(limit_words(timeout))


def test_the_rollout_line_uses_it() -> None:
    assert rollout.waited_text(12, 300) == "waited 12s, limit 5m"
    assert rollout.waited_text(0, math.inf) == "waited 0s, no limit"
    assert not hasattr(rollout, "limit_text")  # the old spelling's helper is gone, not kept beside


def test_a_stuck_rollout_in_a_log_says_the_limit_one_way(monkeypatch) -> None:
    stuck = rollout.RolloutState(found=True, desired=1, updated=1, ready=0, observed=True, pods=[])
    monkeypatch.setattr(rollout, "read_rollout", lambda *_a: stuck)
    ticks = iter([0.0, 0.0, 200.0, 301.0, 301.0, 301.0])
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=False, width=200)
    with pytest.raises(rollout.RolloutTimeout) as caught:
        rollout.wait_for_rollout(None, "kmesh-system", "kmesh", 300, console=console,  # type: ignore[arg-type]
                                 poll=0, clock=lambda: next(ticks))
    assert "waited 0s, limit 5m" in buffer.getvalue().splitlines(), buffer.getvalue()
    assert str(caught.value).startswith("DaemonSet kmesh-system/kmesh not ready after 5m (0/1 ready;"), caught.value


# `{timeout:g} s limit`, `({waited:.0f} s of {limit}`, `({elapsed:.0f}s of {limit:.0f}s)`, `(up to {limit} s)`
OLD_SPELLINGS = re.compile(r"""[\d}] s limit\b|}\s?s of [{\d]|\(up to [{\d]""")
# Files left to their owners to move to asciinum.waited_words (none left).
NOT_YET: set[str] = set()


def test_no_progress_line_of_kmeshctl_spells_a_limit_the_old_way() -> None:
    offenders = [f"{path.relative_to(REPO)}:{n}: {line.strip()}"
                 for path in sorted((REPO / "kmeshctl").rglob("*.py")) if str(path.relative_to(REPO)) not in NOT_YET
                 for n, line in enumerate(path.read_text().splitlines(), 1) if OLD_SPELLINGS.search(line)]
    assert not offenders, offenders


def test_the_pattern_finds_the_old_spellings() -> None:
    for old in ('f"{timeout:g} s limit"', 'f"({waited:.0f} s of {limit_text(timeout)})"',
                'f"({elapsed:.0f}s of {limit:.0f}s)"', 'f"at {address} (up to {TIMEOUT_S:g} s)"'):
        assert OLD_SPELLINGS.search(old), old
    for new in ("the one spelling of a wait's limit", 'f"({waited_words(waited, timeout)})"',
                "over the kernel's limit of "):
        assert not OLD_SPELLINGS.search(new), new


def test_the_docs_show_the_one_spelling() -> None:
    for name in ("docs/usage.md", "README.md"):
        text = (REPO / name).read_text()
        assert not re.search(r"\d s limit|\(up to \d+ s\)", text), name
    usage = (REPO / "docs" / "usage.md").read_text()
    assert "waited 1s, limit 5m" in usage and "(0s, limit 1m)" in usage
