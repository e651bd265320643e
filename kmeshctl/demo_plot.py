"""`kmeshctl demo traffic-shift --plot FILE.png`: configured vs observed share of each
subset, one group of bars per phase (matplotlib, as `bench dataplane` draws its chart)."""

from __future__ import annotations

from pathlib import Path

from kmeshctl.errors import UsageError
from kmeshctl.params import shown


def check_plot_path(path: Path, flag: str = "--plot", force: bool = False) -> None:
    """Before any traffic: a .png file name that can be written (kmeshctl.cli.outpaths),
    not an existing file unless ``force`` (--force)."""
    from kmeshctl.cli.outpaths import check_output_file, meant_path_text

    if _is_dir(path):
        raise UsageError(f"{flag} {shown(path)}: is a directory; give a .png file name"
                         f"{meant_path_text(flag, path / 'demo.png', force)}")
    stream = _stream_kind(path)
    if stream:
        raise UsageError(f"{flag} {shown(path)}: {stream} is not supported (the plot is a .png file); give a .png "
                         f"file name, e.g. {flag} {EXAMPLE_PLOT}")
    if path.suffix.lower() != ".png":  # the path typed, with the suffix the plot needs
        meant = meant_path_text(flag, path.with_suffix(".png"), force)
        raise UsageError(f"{flag} {shown(path)}: give a .png file name{meant}")
    check_output_file(flag, path, force=force)


def plot_shares(report: dict, path: Path) -> None:
    """Draw ``report`` (the demo's JSON, kmeshctl.demo.SCHEMA) into ``path``, whole or not
    at all (kmeshctl.cli.outpaths.NotWritten: a full disk, its directory gone)."""
    from kmeshctl.cli.outpaths import write_files

    write_files("--plot", path, {path: _png(report)})


def _png(report: dict) -> bytes:
    """The plot of ``report`` as PNG bytes."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    subsets = [s["subset"] for s in report["subsets"]]
    phases = report["phases"]
    fig, ax = plt.subplots(figsize=(max(4.5, 2.2 * len(phases) * len(subsets) / 2 + 2), 4.2))
    bar = 0.8 / (2 * len(subsets))
    for i, subset in enumerate(subsets):
        xs = [p["phase"] - 0.4 + bar * (2 * i + 0.5) for p in phases]
        configured = [100 * p["configured_share"][subset] for p in phases]
        observed = [100 * (p["observed_share"][subset] or 0) for p in phases]
        ax.bar(xs, configured, bar, label=f"{subset} configured", alpha=0.45, color=f"C{i}")
        ax.bar([x + bar for x in xs], observed, bar, label=f"{subset} observed", color=f"C{i}")
    ax.set_xticks([p["phase"] for p in phases])
    ax.set_xticklabels([f"phase {p['phase']}\n" + "/".join(str(w) for w in p["weights"].values())
                        + f"\np={_p(p['p_value'])}" for p in phases])
    ax.set_ylabel("share of successful requests (%)")
    ax.set_ylim(0, 100)
    where = report.get("sandbox") or report.get("cluster") or report["target"]
    ax.set_title(f"traffic shift on {report['target']} {where}: {report['requests']} requests per phase"
                 f" ({'PASS' if report['passed'] else 'FAIL'})", fontsize=10, pad=28)
    # above the plotting area, between it and the title: never over a bar (a 90% or 100% bar
    # reaches the top, whatever the number of phases)
    ax.legend(fontsize=8, ncol=2 * len(subsets), loc="lower center", bbox_to_anchor=(0.5, 1.0),
              frameon=False)
    _widened_to_fit(fig, [ax.get_legend(), ax.title])
    image = io.BytesIO()
    fig.savefig(image, dpi=110, format="png")
    plt.close(fig)
    return image.getvalue()


def _widened_to_fit(fig, artists: list) -> None:
    """Lay out ``fig``, widening it until every artist (the legend, the title: centred
    over the axes, wider than one phase's bars) lies inside it with a margin."""
    margin_in = 0.15
    for _ in range(4):
        fig.tight_layout()
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        needed = max(a.get_window_extent(renderer).width for a in artists) / fig.dpi + 2 * margin_in
        left = min(a.get_window_extent(renderer).x0 for a in artists) / fig.dpi
        right = max(a.get_window_extent(renderer).x1 for a in artists) / fig.dpi
        width = fig.get_figwidth()
        if left >= margin_in - 0.01 and right <= width - margin_in + 0.01:
            return
        # centred on the axes, not the figure (the y label takes the left): widen by both overhangs
        fig.set_figwidth(max(needed, width) + max(0.0, margin_in - left) + max(0.0, right - width + margin_in))


def _p(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


EXAMPLE_PLOT = "traffic-shift.png"
# The names of a process's own streams: never a file the plot could be written to, even
# when the stream is one (`> out.txt`); `-` is the usual spelling of stdout.
_STREAM_NAMES = {"-": "stdout", "/dev/stdout": "stdout", "/dev/stderr": "stderr", "/dev/stdin": "stdin",
                 "/dev/tty": "the terminal", "/dev/fd/1": "stdout", "/dev/fd/2": "stderr",
                 "/proc/self/fd/1": "stdout", "/proc/self/fd/2": "stderr"}


def _stream_kind(path: Path) -> str:
    """What ``path`` names when it is no file a plot could be (`stdout` for `-` or
    /dev/stdout, `a device or pipe` for /dev/null or a fifo), '' for a file name."""
    import stat

    named = _STREAM_NAMES.get(str(path))
    if named:
        return f"writing to {named}"
    try:
        mode = path.stat().st_mode
    except OSError:
        return ""
    return "a device or pipe" if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISBLK(mode) else ""


def _is_dir(path: Path) -> bool:
    """``path`` is a directory (False for a path too long to ask about: check_output_file names that)."""
    try:
        return path.is_dir()
    except OSError:
        return False
