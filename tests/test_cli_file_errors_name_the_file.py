"""Issue 14, kind "an error about a file's content names the file": an unsupported image
in a Deployment says `FILE: Deployment NAME: image ...` like every other manifest error
(it once lacked the file, being found only when the pods were planned). Real parts:
kmeshctl.sandbox.manifests.load over files in a temporary directory, and `sandbox up -f`
through a kmeshctl process (refused before anything is set up)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from kmeshctl.errors import UsageError
from kmeshctl.sandbox.manifests import load
from test_cli_kinds import KMESHCTL

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: big}
spec:
  selector: {matchLabels: {app: big}}
  template:
    metadata: {labels: {app: big}}
    spec:
      containers:
      - {name: c, image: "IMAGE"}
"""


@pytest.mark.parametrize("image", ["nginx:latest", "docker.io/library/redis:7"])
def test_an_unsupported_image_names_the_file(image: str, tmp_path: Path) -> None:
    path = tmp_path / "dep.yaml"
    path.write_text(DEPLOYMENT.replace("IMAGE", image))
    with pytest.raises(UsageError) as raised:
        load([path])
    assert str(raised.value).startswith(f"{path}: Deployment big: image {image} is not supported in the sandbox"), \
        raised.value


def test_a_supported_image_loads(tmp_path: Path) -> None:
    path = tmp_path / "dep.yaml"
    path.write_text(DEPLOYMENT.replace("IMAGE", "fortio/fortio:1.60"))
    assert [d.name for d in load([path]).deployments] == ["big"]


def test_sandbox_up_says_the_flag_and_file(tmp_path: Path) -> None:
    (tmp_path / "dep.yaml").write_text(DEPLOYMENT.replace("IMAGE", "nginx:latest"))
    done = subprocess.run([KMESHCTL, "sandbox", "up", "--name", "h52-img", "-f", "dep.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and not done.stdout, done
    assert done.stderr.startswith("Error: -f dep.yaml: Deployment big: image nginx:latest is not supported"), \
        done.stderr
