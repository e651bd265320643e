"""Containers become processes in their pod. Only the images of the demo are known:

- `fortio/fortio` with `server ...`: the real `fortio` binary when one is on PATH or beside
  the Python that runs kmeshctl (scripts/setup.sh links it into .venv/bin), else the
  built-in echo server (`kmeshctl.sandbox.echo_server`), which answers like fortio's
  echo server for the flags it supports;
- `hwchiu/netutils`: a sleeping process (curl from the host runs inside the pod through
  `sandbox exec`, like `kubectl exec` into the image).

Anything else is a clear "not supported in the sandbox" error.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from kmeshctl.errors import UsageError
from kmeshctl.params import shown
from kmeshctl.sandbox.echo_server import parse_listen
from kmeshctl.sandbox.manifests import Container, Deployment

FORTIO_IMAGE = "fortio/fortio"
NETUTILS_IMAGE = "hwchiu/netutils"
BUILTIN_FORTIO_FLAGS = {"http-port", "echo-server-default-params"}
FORTIO_DEFAULT_HTTP_PORT = "8080"


@dataclass(frozen=True)
class ProcessSpec:
    """What to run for one container, and the TCP ports it must open to be ready."""

    argv: tuple[str, ...]
    ports: tuple[int, ...]
    implementation: str  # shown in `status`


def image_name(image: str) -> str:
    """`docker.io/fortio/fortio:1.69` -> `fortio/fortio`."""
    name = image.split("@", 1)[0]
    last = name.rsplit("/", 1)
    if ":" in last[-1]:
        name = name.rsplit(":", 1)[0]
    parts = name.split("/")
    if len(parts) > 2 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


def check_images(containers: tuple[Container, ...]) -> None:
    """Every container's image is one the sandbox runs; a UsageError naming it else."""
    for container in containers:
        if _BUILDERS.get(image_name(container.image)) is None:
            raise UsageError(f"image {shown(container.image)} is not supported in the sandbox (supported: "
                             f"{', '.join(_BUILDERS)}); use a real cluster for it")


def process_for(container: Container, deployment: Deployment) -> ProcessSpec:
    builder = _BUILDERS.get(image_name(container.image))
    if builder is None:
        raise UsageError(
            f"Deployment {deployment.name}: image {container.image} is not supported in the "
            f"sandbox (supported: {', '.join(_BUILDERS)}); use a real cluster for it")
    try:
        return builder(container)
    except UsageError as err:
        raise UsageError(f"Deployment {deployment.name}: {err}") from None


def fortio_binary() -> Optional[str]:
    """The real fortio: on PATH, else beside this interpreter (a venv's bin/), else None."""
    return shutil.which("fortio") or shutil.which("fortio", path=str(Path(sys.executable).parent))


def _fortio(container: Container) -> ProcessSpec:
    argv = list(container.command or ("fortio",)) + list(container.args)
    where = f"container {container.name}"
    if argv[0].rsplit("/", 1)[-1] != "fortio" or len(argv) < 2 or argv[1] != "server":
        raise UsageError(f"{where}: only `fortio server ...` is supported in the sandbox")
    flags = parse_go_flags(argv[2:], where)
    listen = flags.get("http-port", FORTIO_DEFAULT_HTTP_PORT)
    port = _listen_port(listen, where)
    binary = fortio_binary()
    if binary:
        return ProcessSpec((binary, *argv[1:]), (port,), "fortio")
    unknown = sorted(set(flags) - BUILTIN_FORTIO_FLAGS)
    if unknown:
        raise UsageError(f"{where}: fortio flag -{unknown[0]} needs the real fortio binary "
                         "(put `fortio` on PATH); the built-in echo server supports "
                         f"{', '.join('-' + f for f in sorted(BUILTIN_FORTIO_FLAGS))}")
    builtin = [sys.executable, "-m", "kmeshctl.sandbox.echo_server", "-http-port", listen]
    if "echo-server-default-params" in flags:
        builtin += ["-echo-server-default-params", flags["echo-server-default-params"]]
    return ProcessSpec(tuple(builtin), (port,), "built-in echo server")


def _listen_port(listen: str, where: str) -> int:
    try:
        _, port = parse_listen(listen)
    except ValueError as err:
        raise UsageError(f"{where}: -http-port {shown(listen)} is not HOST:PORT or PORT") from err
    if not 1 <= port <= 65535:
        raise UsageError(f"{where}: -http-port {shown(listen)} is not a valid port (1-65535)")
    return port


def parse_go_flags(args: list[str], where: str) -> dict[str, str]:
    """Go's flag syntax: `-name value`, `-name=value`, `--name value` (no booleans used here)."""
    flags: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("-") or arg in ("-", "--"):
            raise UsageError(f"{where}: unexpected argument {shown(arg)} to `fortio server`")
        name, eq, value = arg.lstrip("-").partition("=")
        if not eq:
            if i + 1 >= len(args):
                raise UsageError(f"{where}: flag -{name} has no value")
            value = args[i + 1]
            i += 1
        flags[name] = value
        i += 1
    return flags


def _netutils(container: Container) -> ProcessSpec:
    if container.command or container.args:
        raise UsageError(f"container {container.name}: a command for {NETUTILS_IMAGE} is not "
                         "supported in the sandbox (its pod only sleeps; use `sandbox exec`)")
    return ProcessSpec(("sleep", "infinity"), (), "sleep (exec curl into it)")


_BUILDERS: dict[str, Callable[[Container], ProcessSpec]] = {
    FORTIO_IMAGE: _fortio,
    NETUTILS_IMAGE: _netutils,
}
