"""The runtime's side of CNI: what a container runtime (containerd through libcni) does
with a node's CNI config list when it creates and removes a pod's network.

ADD: the loopback network on ``lo`` first (as containerd does), then each plugin of the
config list in order, each one given the network config on stdin with the previous
plugin's result as ``prevResult``; the last result is the pod's (interfaces, IPs, routes).
CHECK: each plugin in order with that result. DEL: each plugin in reverse order with it,
then loopback. Every call is one execution of the plugin's binary, found in the bin dirs
(``CNI_PATH``), with ``CNI_COMMAND``, ``CNI_CONTAINERID``, ``CNI_NETNS``, ``CNI_IFNAME``,
``CNI_PATH`` and ``CNI_ARGS`` (``IgnoreUnknown=1;K8S_POD_NAMESPACE;K8S_POD_NAME;
K8S_POD_INFRA_CONTAINER_ID;K8S_POD_UID``, as the kubelet's runtime sets them), run in the
node's network namespace (where the bridge plugin makes its bridge).

Like libcni the runtime keeps what DEL needs (the config list used and the result) in a
cache directory, written before the first plugin runs, so the network of a pod whose ADD
was interrupted (a killed caller) is still removed by DEL. A failed ADD is undone with
DEL before the error is raised.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

from kmeshctl.cni.install import primary_config, write_atomic
from kmeshctl.errors import KmeshctlError
from kmeshctl.podnet import entering

REFERENCE_BIN_DIR = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
REFERENCE_PLUGINS = ("bridge", "host-local", "loopback")
LOOPBACK_NETWORK = {"cniVersion": "1.0.0", "name": "cni-loopback", "plugins": [{"type": "loopback"}]}
PLUGIN_TIMEOUT_S = 30.0


class CniError(KmeshctlError):
    """A plugin failed, or the runtime could not run it; the message names the plugin,
    the command and the plugin's own error."""


def missing_reference_plugins(bin_dir: Path = REFERENCE_BIN_DIR) -> list[str]:
    """The CNI reference plugins (bridge, host-local, loopback) not installed in ``bin_dir``."""
    return [name for name in REFERENCE_PLUGINS if not os.access(bin_dir / name, os.X_OK)]


@dataclass(frozen=True)
class CniPod:
    """One pod sandbox as the runtime names it to the plugins."""

    container_id: str  # the pod sandbox's id (64 hex digits)
    netns: str  # path of its network namespace, e.g. /run/netns/NAME
    namespace: str
    name: str
    uid: str = ""
    ifname: str = "eth0"

    def cni_args(self) -> str:
        args = [("IgnoreUnknown", "1"), ("K8S_POD_NAMESPACE", self.namespace), ("K8S_POD_NAME", self.name),
                ("K8S_POD_INFRA_CONTAINER_ID", self.container_id)]
        if self.uid:
            args.append(("K8S_POD_UID", self.uid))
        return ";".join(f"{key}={value}" for key, value in args)


class CniRuntime:
    """Runs a node's CNI config list for pods (module docstring).

    ``conf_dir``: where the config list is (the first ``*.conflist`` / ``*.conf`` /
    ``*.json`` by name, as the runtime picks it); ``bin_dirs``: the plugin search path;
    ``cache_dir``: the runtime's record of each pod's config and result; ``node_netns``:
    the netns the plugins run in (None: the caller's)."""

    def __init__(self, conf_dir: Path, bin_dirs: Sequence[Path], cache_dir: Path,
                 node_netns: Optional[Path] = None) -> None:
        self.conf_dir = Path(conf_dir)
        self.bin_dirs = [Path(d) for d in bin_dirs]
        self.cache_dir = Path(cache_dir)
        self.node_netns = node_netns

    # ----- the config ---------------------------------------------------------------------

    def network(self) -> dict:
        """The config list the runtime uses now (a single-plugin ``.conf`` as a list of one)."""
        path = primary_config(self.conf_dir)
        if path is None:
            raise CniError(f"no CNI network config in {self.conf_dir}: the node's network plugin writes one there")
        try:
            conf = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise CniError(f"CNI config {path} is not readable JSON: {err}") from err
        if "plugins" not in conf:
            conf = {"cniVersion": conf.get("cniVersion", "1.0.0"), "name": conf.get("name", path.stem),
                    "plugins": [{k: v for k, v in conf.items() if k not in ("cniVersion", "name")}]}
        return conf

    # ----- commands -----------------------------------------------------------------------

    def add(self, pod: CniPod) -> list[dict]:
        """ADD: the result of each plugin of the config list in order (the last one is the
        pod's). Raises CniError after undoing what the chain did."""
        network = self.network()
        self._save(pod, network, None)
        try:
            self._run_list(LOOPBACK_NETWORK, "ADD", pod, "lo")
            results = self._run_list(network, "ADD", pod, pod.ifname)
        except CniError:
            try:
                self.delete(pod)
            except CniError:
                pass  # the ADD's error is the one to report
            raise
        self._save(pod, network, results[-1])
        return results

    def check(self, pod: CniPod) -> None:
        """CHECK with the cached result; raises CniError naming the plugin that objects."""
        entry = self._load(pod.container_id, pod.ifname)
        if entry is None or entry.get("result") is None:
            raise CniError(f"CHECK of pod {pod.namespace}/{pod.name}: no completed ADD in {self.cache_dir}")
        self._run_list(entry["config"], "CHECK", pod, pod.ifname, prev=entry["result"], chain=False)

    def delete(self, pod: CniPod) -> None:
        """DEL, every plugin in reverse order even after one failed (the first failure is
        raised at the end, and the cache entry kept so DEL can be tried again)."""
        entry = self._load(pod.container_id, pod.ifname)
        network = entry["config"] if entry else self.network()
        prev = entry.get("result") if entry else None
        failures: list[CniError] = []
        for plugin_conf in reversed(network["plugins"]):
            try:
                self._exec(network, plugin_conf, "DEL", pod, pod.ifname, prev)
            except CniError as err:
                failures.append(err)
        try:
            self._exec(LOOPBACK_NETWORK, LOOPBACK_NETWORK["plugins"][0], "DEL", pod, "lo", None)
        except CniError as err:
            failures.append(err)
        if failures:
            raise failures[0]
        self._cache_path(pod.container_id, pod.ifname).unlink(missing_ok=True)

    def cached_pods(self) -> list[CniPod]:
        """Every pod with a cache entry: ADD begun and no successful DEL yet."""
        if not self.cache_dir.is_dir():
            return []
        pods = []
        for path in sorted(self.cache_dir.glob("*.json")):
            try:
                pods.append(CniPod(**json.loads(path.read_text())["pod"]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return pods

    def result(self, pod: CniPod) -> Optional[dict]:
        """The pod's ADD result (None: no completed ADD)."""
        entry = self._load(pod.container_id, pod.ifname)
        return entry.get("result") if entry else None

    # ----- running plugins ----------------------------------------------------------------

    def _run_list(self, network: dict, command: str, pod: CniPod, ifname: str, prev: Optional[dict] = None,
                  chain: bool = True) -> list[dict]:
        results = []
        for plugin_conf in network["plugins"]:
            out = self._exec(network, plugin_conf, command, pod, ifname, prev)
            if chain:
                prev = out
                results.append(out if out is not None else {})
        return results

    def _exec(self, network: dict, plugin_conf: dict, command: str, pod: CniPod, ifname: str,
              prev: Optional[dict]) -> Optional[dict]:
        kind = plugin_conf.get("type", "")
        stdin = {"cniVersion": network["cniVersion"], "name": network["name"], **plugin_conf}
        if prev is not None:
            stdin["prevResult"] = prev
        env = {"CNI_COMMAND": command, "CNI_CONTAINERID": pod.container_id, "CNI_NETNS": pod.netns,
               "CNI_IFNAME": ifname, "CNI_ARGS": pod.cni_args(),
               "CNI_PATH": os.pathsep.join(str(d) for d in self.bin_dirs),
               "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")}
        what = f"CNI {command} of pod {pod.namespace}/{pod.name}: plugin {kind}"
        try:
            done = subprocess.run(entering([str(self._binary(kind))], netns=self.node_netns),
                                  input=json.dumps(stdin), capture_output=True, text=True, env=env,
                                  timeout=PLUGIN_TIMEOUT_S)
        except (OSError, subprocess.SubprocessError) as err:
            raise CniError(f"{what} could not run: {err}") from err
        if done.returncode != 0:
            raise CniError(f"{what} failed: {_error_text(done.stdout, done.stderr)}")
        if command != "ADD" or not done.stdout.strip():
            return None
        try:
            return json.loads(done.stdout)
        except ValueError as err:
            raise CniError(f"{what} printed no JSON result: {done.stdout[:200]!r}") from err

    def _binary(self, kind: str) -> Path:
        if not kind or "/" in kind:
            raise CniError(f"CNI plugin type {kind!r} is not a plugin name")
        for directory in self.bin_dirs:
            if os.access(directory / kind, os.X_OK):
                return directory / kind
        raise CniError(f"CNI plugin {kind} not found in {os.pathsep.join(map(str, self.bin_dirs))}: "
                       "install it (Debian: apt-get install containernetworking-plugins)")

    # ----- the cache ----------------------------------------------------------------------

    def _cache_path(self, container_id: str, ifname: str) -> Path:
        return self.cache_dir / f"{container_id}-{ifname}.json"

    def _save(self, pod: CniPod, network: dict, result: Optional[dict]) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        entry = {"pod": asdict(pod), "config": network, "result": result}
        write_atomic(self._cache_path(pod.container_id, pod.ifname), json.dumps(entry).encode(), 0o600)

    def _load(self, container_id: str, ifname: str) -> Optional[dict]:
        try:
            return json.loads(self._cache_path(container_id, ifname).read_text())
        except (OSError, ValueError):
            return None


def _error_text(stdout: str, stderr: str) -> str:
    """The plugin's CNI error result (``{code, msg, details}``) as one phrase."""
    try:
        error = json.loads(stdout)
        text = f"{error.get('msg', '')} (CNI error {error.get('code')})"
        if error.get("details"):
            text += f": {error['details']}"
        return text
    except (ValueError, AttributeError):
        return (stdout.strip() or stderr.strip() or "no output").splitlines()[-1][:300]
