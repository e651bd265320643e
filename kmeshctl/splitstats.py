"""Is an observed traffic split consistent with the configured weights?

Two versions: the exact two-sided binomial test. More: Pearson's chi-square test
(upper tail of the chi-square distribution through the regularized incomplete gamma
function). A version with weight 0 that received any request makes the split
impossible (p = 0). Pure math, no SciPy."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

_EPS = 1e-15
_MAX_ITER = 10_000


@dataclass(frozen=True)
class SplitTest:
    p_value: float
    test: str  # "binomial" | "chi-square" | "exact" (a category that cannot occur was seen)


def split_test(observed: dict[str, int], weights: dict[str, float]) -> SplitTest | None:
    """observed: count per category; weights: configured share per category (any scale).
    Categories missing from `weights` have weight 0. None when nothing was observed."""
    total = sum(observed.values())
    weight_sum = sum(w for w in weights.values() if w > 0)
    if total == 0 or weight_sum <= 0:
        return None
    if any(n > 0 and weights.get(k, 0) <= 0 for k, n in observed.items()):
        return SplitTest(0.0, "exact")
    live = [k for k, w in weights.items() if w > 0]
    if len(live) == 1:
        return SplitTest(1.0, "exact")
    shares = {k: weights[k] / weight_sum for k in live}
    if len(live) == 2:
        first = live[0]
        return SplitTest(binomial_two_sided(observed.get(first, 0), total, shares[first]), "binomial")
    statistic = sum((observed.get(k, 0) - total * p) ** 2 / (total * p) for k, p in shares.items())
    return SplitTest(chi_square_sf(statistic, len(live) - 1), "chi-square")


def binomial_two_sided(successes: int, trials: int, p: float) -> float:
    """Sum of the probabilities of all outcomes no more likely than the observed one."""
    observed = _binomial_log_pmf(successes, trials, p)
    tolerance = 1e-7  # outcomes equally likely up to rounding count as "as extreme"
    total = 0.0
    for k in range(trials + 1):
        log_pmf = _binomial_log_pmf(k, trials, p)
        if log_pmf <= observed + tolerance:
            total += math.exp(log_pmf)
    return min(1.0, total)


def _binomial_log_pmf(k: int, n: int, p: float) -> float:
    if p <= 0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1:
        return 0.0 if k == n else -math.inf
    log_choose = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
    return log_choose + k * math.log(p) + (n - k) * math.log1p(-p)


def chi_square_sf(statistic: float, dof: int) -> float:
    """P(X >= statistic) for X ~ chi-square with `dof` degrees of freedom."""
    if statistic <= 0:
        return 1.0
    return regularized_gamma_q(dof / 2.0, statistic / 2.0)


def regularized_gamma_q(a: float, x: float) -> float:
    """Q(a, x) = 1 - P(a, x): a series for P when x < a + 1, else a continued fraction."""
    if x < a + 1:
        return 1.0 - _gamma_p_series(a, x)
    return _gamma_q_continued_fraction(a, x)


def _gamma_p_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    denominator = a
    for _ in range(_MAX_ITER):
        denominator += 1
        term *= x / denominator
        total += term
        if abs(term) < abs(total) * _EPS:
            break
    return total * math.exp(-x + a * math.log(x) - math.lgamma(a))


def _gamma_q_continued_fraction(a: float, x: float) -> float:
    # Lentz's method for the continued fraction of Q(a, x).
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, _MAX_ITER):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return h * math.exp(-x + a * math.log(x) - math.lgamma(a))


# -- how many requests a verdict needs ---------------------------------------------------------

_SCAN_LIMIT = 64  # counted one by one up to here; beyond, found by doubling and bisection
MAX_NEEDED = 1_000_000


TELLABLE_LIMIT = 100_000  # the demo's largest -c: weights no count up to it tells from the even spread are like it


def min_requests(weights: dict[str, float], floor: float, pods: dict[str, int] | None = None,
                 limit: int = TELLABLE_LIMIT) -> int:
    """The fewest requests at which the split test at ``floor`` can tell ``weights`` from
    routing that ignores them (an even spread over the pods, ``pods`` per version, default
    one each, as kube-proxy spreads): below it that split would still pass. Weights
    like that spread (like_unweighted): the fewest at which any outcome at all can be rejected."""
    pod_items = tuple(sorted((pods or {}).items()))
    return _min_requests(tuple(sorted(weights.items())), floor, pod_items, limit)


@functools.lru_cache(maxsize=64)
def _min_requests(items: tuple[tuple[str, float], ...], floor: float,
                  pod_items: tuple[tuple[str, int], ...] = (), limit: int = TELLABLE_LIMIT) -> int:
    weights = dict(items)
    pods = _pods(weights, dict(pod_items))
    if len(weights) == 1 or not any(w > 0 for w in weights.values()):
        return 1  # one version: any answer from another is rejected, every other passes
    if like_unweighted(weights, pods, floor, limit):
        return _first(lambda n: _any_rejected(n, weights, floor))
    return _first(lambda n: _rejected(unweighted_counts(n, weights, pods), weights, floor))


def like_unweighted(weights: dict[str, float], pods: dict[str, int] | None, floor: float,
                    limit: int = TELLABLE_LIMIT) -> bool:
    """Whether ``weights`` are the spread routing without them gives (evenly over the pods,
    ``pods`` per version), or so close to it that no count up to ``limit`` tells them apart."""
    return _like_unweighted(tuple(sorted(weights.items())), tuple(sorted((pods or {}).items())), floor, limit)


@functools.lru_cache(maxsize=64)
def _like_unweighted(items: tuple[tuple[str, float], ...], pod_items: tuple[tuple[str, int], ...], floor: float,
                     limit: int) -> bool:
    weights = dict(items)
    pods = _pods(weights, dict(pod_items))
    if len(weights) < 2 or _proportional(weights, pods):
        return len(weights) >= 2
    return not _rejected(unweighted_counts(limit, weights, pods), weights, floor)


def _pods(weights: dict[str, float], pods: dict[str, int]) -> dict[str, int]:
    return {k: pods.get(k, 1) for k in weights}


def _proportional(weights: dict[str, float], pods: dict[str, int]) -> bool:
    total_w, total_p = sum(weights.values()), sum(pods.values())
    return total_p > 0 and all(weights[k] * total_p == pods[k] * total_w for k in weights)


def even_counts(requests: int, weights: dict[str, float]) -> dict[str, int]:
    """``requests`` spread evenly over the versions (one pod each): unweighted_counts."""
    return unweighted_counts(requests, weights, {k: 1 for k in weights})


def unweighted_counts(requests: int, weights: dict[str, float], pods: dict[str, int]) -> dict[str, int]:
    """``requests`` spread evenly over the pods (``pods`` per version), the remainder to the
    heaviest versions (the spread closest to the weights: the hardest one to reject)."""
    total = sum(pods.values()) or 1
    counts = {k: requests * pods[k] // total for k in weights}
    order = sorted(weights, key=lambda k: -weights[k])
    for k in order[:requests - sum(counts.values())]:
        counts[k] += 1
    return counts


def _rejected(observed: dict[str, int], weights: dict[str, float], floor: float) -> bool:
    tested = split_test(observed, weights)
    return tested is not None and tested.p_value < floor


def _any_rejected(requests: int, weights: dict[str, float], floor: float) -> bool:
    """Whether the most extreme outcome (every request to the lightest version) is rejected."""
    lightest = min(weights, key=lambda k: weights[k])
    return _rejected({lightest: requests}, weights, floor)


def _first(rejects) -> int:  # type: ignore[no-untyped-def]
    """The smallest n with rejects(n): a scan, then doubling and bisection for large n."""
    for n in range(1, _SCAN_LIMIT + 1):
        if rejects(n):
            return n
    low, high = _SCAN_LIMIT, 2 * _SCAN_LIMIT
    while not rejects(high):
        if high >= MAX_NEEDED:
            return MAX_NEEDED
        low, high = high, min(2 * high, MAX_NEEDED)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if rejects(middle) else (middle, high)
    # near the threshold the discrete test is not monotone: a few smaller counts may reject
    window = _SCAN_LIMIT if high <= 1_000 else 8  # each look costs O(n)
    return min([n for n in range(max(_SCAN_LIMIT + 1, high - window), high) if rejects(n)] or [high])
