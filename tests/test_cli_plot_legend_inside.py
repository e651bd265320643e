"""Issue 14, kind "a chart's legend and title inside the figure": `demo traffic-shift
--plot` draws its legend (and title) wholly inside the PNG's figure for 1, 2 and 3
phases and 2 or 3 subsets (one phase once cut `v2 observ` off both edges). Real parts:
kmeshctl.demo_plot with matplotlib's Agg backend; the figure is kept to measure it."""

from __future__ import annotations

from pathlib import Path

import pytest


def _report(phases: int, subsets: int) -> dict:
    names = [f"v{i}" for i in range(1, subsets + 1)]
    share = {n: 1 / subsets for n in names}
    return {"subsets": [{"subset": n} for n in names], "sandbox": "h52-plot-sandbox-name", "target": "local",
            "requests": 1000, "passed": True,
            "phases": [{"phase": k, "weights": {n: 100 // subsets for n in names}, "p_value": 0.5,
                        "configured_share": share, "observed_share": share} for k in range(1, phases + 1)]}


@pytest.mark.parametrize("subsets", [2, 3])
@pytest.mark.parametrize("phases", [1, 2, 3])
def test_the_legend_and_title_lie_inside_the_figure(phases: int, subsets: int, tmp_path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from kmeshctl import demo_plot

    figures = []
    saved_close = plt.close
    plt.close = lambda fig=None: figures.append(fig)  # keep the figure to measure it
    try:
        demo_plot.plot_shares(_report(phases, subsets), tmp_path / "p.png")
    finally:
        plt.close = saved_close
    fig = figures[0]
    try:
        renderer = fig.canvas.get_renderer()
        box = fig.bbox
        ax = fig.axes[0]
        for artist in (ax.get_legend(), ax.title):
            extent = artist.get_window_extent(renderer)
            assert box.x0 <= extent.x0 and extent.x1 <= box.x1, (artist, extent, box)
            assert box.y0 <= extent.y0 and extent.y1 <= box.y1, (artist, extent, box)
        assert ax.get_legend().get_window_extent(renderer).y0 >= ax.get_window_extent(renderer).y1 - 1
    finally:
        saved_close(fig)
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
