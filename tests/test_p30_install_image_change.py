"""Pass 30 (issue 14): an install that replaces the agents' image says so, with the line that
keeps the old one. An install without --image after one with a custom image puts the default
back (declarative, as istioctl and helm do with a value left out); a user who did not mean it
must hear it before it is applied (--dry-run) and when it is."""
from __future__ import annotations

import shlex

from kmeshctl.params import DEFAULT_IMAGE
from standin_apiserver import cluster  # noqa: F401 (fixture)
from test_p27_rollout_status import _image, connected  # noqa: F401 (fixture)

CUSTOM = "registry.example/kmesh:0.1.0"


def _installed(cluster, image: str) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    assert cluster.kmeshctl("install", "--cluster-id", "c1", "--image", image, "--timeout", "20s").code == 0


def _keep_line(stderr: str) -> list[str]:
    [line] = [line for line in stderr.splitlines() if "the agents' image" in line]
    [command] = [c for c in line.split("`")[1::2] if c.startswith("kmeshctl")]
    return shlex.split(command)


def test_a_dry_run_without_image_says_the_custom_image_would_go(cluster, connected) -> None:  # noqa: F811
    _installed(cluster, CUSTOM)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run")
    assert result.code == 0, result
    assert f"DaemonSet kmesh-system/kmesh: the agents' image would change from {CUSTOM} to {DEFAULT_IMAGE}" \
        in result.err, result.err
    assert _keep_line(result.err)[-6:] == ["install", "--cluster-id", "c1", "--dry-run", "--image", CUSTOM]
    assert _image(cluster) == CUSTOM  # nothing applied


def test_the_install_says_it_changes_the_image_and_the_pasted_line_puts_it_back(cluster, connected) -> None:  # noqa: F811
    _installed(cluster, CUSTOM)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--timeout", "20s")
    assert result.code == 0, result
    assert f"the agents' image changes from {CUSTOM} to {DEFAULT_IMAGE}" in result.err, result.err
    assert _image(cluster) == DEFAULT_IMAGE
    assert cluster.kmeshctl(*_keep_line(result.err)[1:]).code == 0 and _image(cluster) == CUSTOM


def test_the_same_image_again_and_a_first_install_say_nothing_of_images(cluster, connected) -> None:  # noqa: F811
    cluster.server.daemonset_controller = "ready"
    first = cluster.kmeshctl("install", "--cluster-id", "c1", "--image", CUSTOM, "--timeout", "20s")
    again = cluster.kmeshctl("install", "--cluster-id", "c1", "--image", CUSTOM, "--timeout", "20s")
    assert first.code == again.code == 0
    assert "the agents' image" not in first.err + again.err


def test_quiet_still_says_it_as_a_line_with_a_fix(cluster, connected) -> None:  # noqa: F811
    """The -q rule (docs/usage.md): a line that needs a fix prints under -q too (t31c: an
    image replaced unsaid under -q); it is the only line."""
    _installed(cluster, CUSTOM)
    result = cluster.kmeshctl("install", "--cluster-id", "c1", "--dry-run", "-q")
    assert result.code == 0 and len(result.err.strip().splitlines()) == 1, result.err
    assert _keep_line(result.err)[-7:] == ["install", "--cluster-id", "c1", "--dry-run", "-q", "--image", CUSTOM], \
        result.err
