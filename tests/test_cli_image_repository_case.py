"""Issue 14, kind "an image the kubelet cannot pull is refused at the door": an --image whose
repository has capitals (`UPPER/case:1`: a first component without '.' or ':' that is not
localhost is part of the repository; `docker.io/UPPER/case:1`) is bad input on every command
that takes --image, before anything is rendered or applied: one line naming the flag and
the lower-case reference, which is accepted when pasted. A registry host with capitals is
not refused (host names are not case-sensitive).

Real parts: kmeshctl.cli.main in-process, no cluster configured (render is offline;
install --dry-run with --xds-address validates offline; waypoint apply --dry-run prints)."""

from __future__ import annotations

import shlex

import pytest

from kmeshctl.params import check_image
from test_cli_kinds import cli, no_env  # noqa: F401 (fixture)

COMMANDS = {
    "render": ["render", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012"],
    "install": ["install", "--cluster-id", "c1", "--xds-address", "istiod.istio-system.svc:15012", "--dry-run"],
    "waypoint": ["waypoint", "apply", "--dry-run"],
}
CAPITALS = [("UPPER/case:1", "upper/case:1"),
            ("docker.io/UPPER/case:1", "docker.io/upper/case:1"),
            ("Registry.Example.com/Team/Node:V1", "Registry.Example.com/team/node:V1"),
            ("localhost:5000/Kmesh", "localhost:5000/kmesh")]


@pytest.fixture
def no_cluster(monkeypatch, tmp_path, no_env) -> None:  # noqa: F811
    monkeypatch.setenv("HOME", str(tmp_path))


@pytest.mark.parametrize("image,fixed", CAPITALS)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_capitals_in_the_repository_are_refused_with_the_lower_case_reference(command, image, fixed, capsys,
                                                                              no_cluster) -> None:
    code, out, err = cli(capsys, *COMMANDS[command], "--image", image)
    assert code == 2 and not out and err.count("\n") == 1, (code, out, err)
    assert err.startswith(f"Error: --image {image}: repository "), err
    # the whole line (t38c finding 10): every flag typed kept, the image lower-cased
    line = ["kmeshctl", *COMMANDS[command], "--image", fixed]
    assert "has capital letters" in err and f"; use a lower-case repository: `{shlex.join(line)}` (see " in err, err
    code, out, err = cli(capsys, *line[1:])
    assert code == 0 and out, (code, err)


def test_a_registry_host_with_capitals_is_accepted(capsys, no_cluster) -> None:
    code, out, err = cli(capsys, *COMMANDS["render"], "--image", "Registry.Example.com:5000/team/node:V1")
    assert code == 0 and "Registry.Example.com:5000/team/node:V1" in out, err


@pytest.mark.parametrize("image", ["Bad Image", "a:b:c", "UPPER/Case Space"])
def test_what_no_case_change_fixes_is_not_an_image_reference(image) -> None:
    with pytest.raises(Exception) as raised:
        check_image(image)
    assert "not an image reference; use REGISTRY/REPOSITORY[:TAG][@sha256:DIGEST], e.g. " in str(raised.value)


def test_a_long_digest_is_offered_whole() -> None:
    digest = "sha256:" + "ab" * 32
    with pytest.raises(Exception) as raised:
        check_image(f"ghcr.io/Kmesh/node@{digest}")
    assert str(raised.value).endswith(f"use a lower-case repository: --image ghcr.io/kmesh/node@{digest}")
