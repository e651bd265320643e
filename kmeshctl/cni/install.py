"""Installing the CNI plugin on the node, keeping it installed, and removing it.

At start the agent copies the plugin to the CNI bin dir (a Python zip application run by
the node's ``/usr/bin/python3``), writes the plugin's kubeconfig (JSON, 0600) into the
CNI conf dir and appends the plugin to the end of the node's CNI config list: the file
the runtime uses, the first ``*.conflist`` / ``*.conf`` / ``*.json`` by name. A single
``.conf`` becomes a ``.conflist`` of the same stem (the original is kept inside our
entry and written back at uninstall). Every write is a temp file in the same directory
renamed over the target, so the runtime never reads half a file. The agent re-checks
every ``REFRESH_SECONDS``: a primary CNI that rewrote its config gets the plugin chained
again, a rotated token is written again. Uninstall takes the plugin out of every config
list, restores a converted ``.conf``, and deletes the plugin and its kubeconfig.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from kmeshctl.cni import plugin
from kmeshctl.errors import KmeshctlError

log = logging.getLogger("kmeshctl.cni")

PLUGIN_TYPE = plugin.PLUGIN_TYPE
KUBECONFIG_NAME = "kmesh-cni-kubeconfig"  # no .conf/.json suffix: the runtime never loads it
CONFIG_SUFFIXES = (".conflist", ".conf", ".json")
HOST_PYTHON = "/usr/bin/python3"
# -I: the node's environment and user site cannot change what runs; -S: no site import (faster)
SHEBANG = f"{HOST_PYTHON} -IS"
REFRESH_SECONDS = 10.0
SA_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
_SOURCES = ("kmeshctl/enrollment.py", "kmeshctl/cni/plugin.py")
_MAIN = "from kmeshctl.cni.plugin import main\nmain()\n"
# The executable is a 4-line script putting the zip on sys.path: running the zip itself
# would go through runpy and importlib.util (about 13 ms more per call).
_LAUNCHER = """#!{shebang}
import sys
sys.path.insert(0, {zip!r})
from kmeshctl.cni.plugin import main
main()
"""


@dataclass(frozen=True)
class CniSettings:
    """Where the runtime looks (conf and bin dir), where the agent listens, and what the
    plugin does when the agent cannot answer (``failPolicy`` open or closed)."""

    conf_dir: Path
    bin_dir: Path
    socket: Path
    fail_policy: str = plugin.FAIL_OPEN
    enable_bypass: bool = False

    @property
    def plugin_path(self) -> Path:
        return plugin_files(self.conf_dir, self.bin_dir)[0]

    @property
    def zip_path(self) -> Path:
        return plugin_files(self.conf_dir, self.bin_dir)[1]

    @property
    def kubeconfig_path(self) -> Path:
        return plugin_files(self.conf_dir, self.bin_dir)[2]

    def entry(self) -> dict:
        """Our element of the config list."""
        return {"type": PLUGIN_TYPE, "socket": str(self.socket), "kubeconfig": str(self.kubeconfig_path),
                "failPolicy": self.fail_policy, "enableBypass": self.enable_bypass}


@dataclass(frozen=True)
class ApiCredentials:
    server: str
    ca_pem: bytes
    token: str


# ----------------------------------------------------------------- files


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``path`` by renaming a finished temp file over it (hidden name, no config
    suffix, so the runtime never loads the temp file)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def plugin_zip() -> bytes:
    """The plugin as a Python zip application: shebang, __main__ and the two stdlib-only
    modules it needs (copied from this package, so the rules are the agent's own), as
    source and as bytecode of this interpreter: a node Python of the same version skips
    compiling them on every call (about 10 ms), another one compiles the source."""
    root = Path(__file__).resolve().parents[2]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("__main__.py", _MAIN)
        for name in ("kmeshctl/__init__.py", "kmeshctl/cni/__init__.py"):
            _add_module(zf, name, b"")
        for name in _SOURCES:
            _add_module(zf, name, (root / name).read_bytes())
    return f"#!{SHEBANG}\n".encode() + buf.getvalue()


def _add_module(zf: zipfile.ZipFile, name: str, source: bytes) -> None:
    """``name`` as source plus a bytecode file zipimport takes when the magic matches
    (it checks the source's mtime in the zip, so both get the same timestamp)."""
    import importlib.util
    import marshal
    import time

    stamp = time.localtime()[:6]
    zf.writestr(zipfile.ZipInfo(name, stamp), source)
    code = compile(source, name, "exec", dont_inherit=True, optimize=0)
    mtime = int(time.mktime(stamp + (0, 0, -1)))
    header = importlib.util.MAGIC_NUMBER + (0).to_bytes(4, "little") + mtime.to_bytes(4, "little") + \
        (len(source) & 0xFFFFFFFF).to_bytes(4, "little")
    zf.writestr(zipfile.ZipInfo(name[:-3] + ".pyc", stamp), header + marshal.dumps(code))


def primary_config(conf_dir: Path) -> Optional[Path]:
    """The config the runtime uses: the first by name with a config suffix."""
    try:
        names = sorted(p for p in conf_dir.iterdir() if p.suffix in CONFIG_SUFFIXES and p.is_file())
    except FileNotFoundError:
        return None
    return names[0] if names else None


def read_json_object(path: Path, what: str) -> dict:
    """The JSON object in ``path``; KmeshctlError naming ``what`` when the file cannot be
    read, is not JSON, or holds something else than an object."""
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise KmeshctlError(f"{what} {path} is not readable JSON: {err}") from err
    if not isinstance(obj, dict):
        raise KmeshctlError(f"{what} {path} is not a JSON object")
    return obj


def _ours(plugin_conf: dict) -> bool:
    return plugin_conf.get("type") == PLUGIN_TYPE


def chained(conf: dict, entry: dict) -> dict:
    """``conf`` (a config list) with ``entry`` last and no other element of ours."""
    plugins = [p for p in conf.get("plugins") or [] if not _ours(p)]
    return {**conf, "plugins": plugins + [entry]}


def unchained(conf: dict) -> dict:
    return {**conf, "plugins": [p for p in conf.get("plugins") or [] if not _ours(p)]}


def as_list(single: dict, entry: dict) -> dict:
    """A single-plugin ``.conf`` as a config list with ``entry`` chained (the original
    kept in the entry for uninstall)."""
    first = {k: v for k, v in single.items() if k not in ("cniVersion", "name")}
    return {"cniVersion": single.get("cniVersion", "0.3.1"), "name": single.get("name", "k8s-pod-network"),
            "plugins": [first, {**entry, "kmeshConvertedFrom": single}]}


def is_chained(conf: dict, entry: dict) -> bool:
    plugins = conf.get("plugins") or []
    return bool(plugins) and {k: v for k, v in plugins[-1].items() if k != "kmeshConvertedFrom"} == entry


# ----------------------------------------------------------------- the installer


class CniInstaller:
    """Install, keep fresh, uninstall (module docstring). ``credentials`` returns the
    API server, CA and token the plugin's kubeconfig carries (None: write none)."""

    def __init__(self, settings: CniSettings, credentials: Callable[[], Optional[ApiCredentials]]) -> None:
        self.settings = settings
        self.credentials = credentials
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = threading.Lock()
        self._written_kubeconfig: Optional[bytes] = None

    def check(self) -> None:
        """What needs no change: both directories exist. Raises KmeshctlError."""
        for what, path in (("CNI conf dir", self.settings.conf_dir), ("CNI bin dir", self.settings.bin_dir)):
            if not path.is_dir():
                raise KmeshctlError(f"{what} {path} does not exist: mount the node's directory there "
                                    "(the DaemonSet's cni-conf / cni-bin hostPaths) or pass another")

    def install(self) -> None:
        with self._lock:
            self._copy_plugin()
            self._write_kubeconfig()
            self._chain()

    def start_refresh(self, interval: float = REFRESH_SECONDS) -> None:
        def loop() -> None:
            while not self._stop.wait(interval):
                try:
                    with self._lock:
                        self._refresh()
                except Exception as err:  # noqa: BLE001 - logged, tried again next round
                    log.warning("event=cni_refresh_failed error=%r", str(err))

        self._thread = threading.Thread(target=loop, name="cni-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _refresh(self) -> None:
        if not (self.settings.plugin_path.exists() and self.settings.zip_path.exists()):
            self._copy_plugin()
        self._write_kubeconfig(only_if_changed=True)
        self._chain(only_if_missing=True)

    # ----- steps ------------------------------------------------------------------------

    def _copy_plugin(self) -> None:
        data = plugin_zip()
        write_atomic(self.settings.zip_path, data, 0o644)
        launcher = _LAUNCHER.format(shebang=SHEBANG, zip=str(self.settings.zip_path)).encode()
        write_atomic(self.settings.plugin_path, launcher, 0o755)
        log.info("event=cni_plugin_copied path=%s modules=%s bytes=%d interpreter=%s", self.settings.plugin_path,
                 self.settings.zip_path, len(data), SHEBANG)

    def _write_kubeconfig(self, only_if_changed: bool = False) -> None:
        creds = self.credentials()
        if creds is None:
            log.info("event=cni_kubeconfig_skipped reason='no service-account token (failPolicy closed cannot "
                     "ask the API server without the agent)'")
            return
        data = kubeconfig_json(creds).encode()
        if only_if_changed and data == self._written_kubeconfig and self.settings.kubeconfig_path.exists():
            return
        write_atomic(self.settings.kubeconfig_path, data, 0o600)
        self._written_kubeconfig = data
        log.info("event=cni_kubeconfig_written path=%s server=%s", self.settings.kubeconfig_path, creds.server)

    def _chain(self, only_if_missing: bool = False) -> None:
        path = primary_config(self.settings.conf_dir)
        if path is None:
            log.info("event=cni_config_pending conf_dir=%s reason='no CNI config yet (the node's network "
                     "plugin writes one); chaining when it appears'", self.settings.conf_dir)
            return
        conf, entry = read_json_object(path, "CNI config"), self.settings.entry()
        if "plugins" in conf:
            if is_chained(conf, entry):
                if not only_if_missing:
                    log.info("event=cni_config_written path=%s already_chained=true", path)
                return
            target, new = path, chained(conf, entry)
        else:
            target, new = path.with_suffix(".conflist"), as_list(conf, entry)
        write_atomic(target, (json.dumps(new, indent=2) + "\n").encode(), 0o644)
        if target != path:
            path.unlink()
        log.info("event=cni_config_written path=%s chained_after=%s converted_from=%s", target,
                 ",".join(p.get("type", "?") for p in new["plugins"][:-1]), path.name if target != path else "-")

    def uninstall(self) -> None:
        """Take the plugin out of every config list and delete its files; never raises."""
        self.stop()
        with self._lock:
            for line in remove_plugin(self.settings.conf_dir, self.settings.bin_dir, on_error=_log_failed):
                log.info("event=cni_removed what=%r", line)
            _remove_plugin_log(self.settings.socket.parent)


def _remove_plugin_log(socket_dir: Path) -> None:
    """The plugin's log beside the agent's socket removed: an uninstall leaves nothing of
    kmesh on the node (the plugin is out of every config list by now, so no new run writes
    it again; a restart keeps it)."""
    with contextlib.suppress(OSError):
        (socket_dir / plugin.LOG_NAME).unlink()
        log.info("event=cni_removed what=%r", f"removed {socket_dir / plugin.LOG_NAME}")


def _log_failed(step: str, err: Exception) -> None:
    log.warning("event=cni_uninstall_failed step=%s error=%r", step, str(err))


# ----------------------------------------------------------------- removal (agent uninstall, `node cleanup`)


def plugin_files(conf_dir: Path, bin_dir: Path) -> tuple[Path, ...]:
    """The files the agent writes: the launcher and the zip in ``bin_dir``, the kubeconfig in ``conf_dir``."""
    return bin_dir / PLUGIN_TYPE, bin_dir / f"{PLUGIN_TYPE}.pyz", conf_dir / KUBECONFIG_NAME


def chaining_configs(conf_dir: Path) -> list[tuple[Path, dict]]:
    """The config files of ``conf_dir`` (by name) whose list chains the plugin, as read;
    [] when the directory does not exist. Unreadable or non-JSON files are skipped."""
    try:
        paths = sorted(p for p in conf_dir.iterdir() if p.suffix in CONFIG_SUFFIXES and p.is_file())
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for path in paths:
        try:
            conf = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(conf, dict) and any(_ours(p) for p in conf.get("plugins") or [] if isinstance(p, dict)):
            found.append((path, conf))
    return found


def _unchain(path: Path, conf: dict) -> str:
    """``path`` (chaining the plugin, ``conf`` as read) written back without it: a list
    converted from a single ``.conf`` restored as that file. The line saying what was done."""
    ours = [p for p in conf.get("plugins") or [] if isinstance(p, dict) and _ours(p)]
    original = ours[-1].get("kmeshConvertedFrom")
    if original is not None:
        restored = path.with_suffix(".conf")
        write_atomic(restored, (json.dumps(original, indent=2) + "\n").encode(), 0o644)
        path.unlink()
        return f"restored {restored} (chained with {PLUGIN_TYPE} as {path.name}, now removed)"
    write_atomic(path, (json.dumps(unchained(conf), indent=2) + "\n").encode(), 0o644)
    return f"removed {PLUGIN_TYPE} from the CNI config {path}"


def _is_ours(path: Path) -> bool:
    """``path`` (one of plugin_files) holds what the agent wrote there: the launcher and the
    zip start with its interpreter line; the kubeconfig is ours by its name. Another
    project's `kmesh-cni` binary is left alone."""
    if path.name == KUBECONFIG_NAME:
        return True
    try:
        with path.open("rb") as head:
            return head.read(len(SHEBANG) + 3) == f"#!{SHEBANG}\n".encode()
    except OSError:
        return False


def plugin_leftovers(conf_dir: Path, bin_dir: Path) -> list[Path]:
    """What remove_plugin would act on: the configs chaining the plugin and the agent's files there."""
    return [path for path, _ in chaining_configs(conf_dir)] + \
        [path for path in plugin_files(conf_dir, bin_dir) if path.is_file() and _is_ours(path)]


def remove_plugin(conf_dir: Path, bin_dir: Path,
                  on_error: Optional[Callable[[str, Exception], None]] = None) -> list[str]:
    """Take the plugin out of every config list of ``conf_dir`` (a converted ``.conf``
    restored) and delete its files (plugin_files): what the agent does at uninstall, and
    `kmeshctl node cleanup` after an agent that could not. One line per thing done.
    A step that fails raises, unless ``on_error`` (step, error) takes it: then the other
    steps still run."""
    done: list[str] = []
    steps: list[tuple[str, Callable[[], str]]] = [
        (f"unchain {path}", lambda path=path, conf=conf: _unchain(path, conf))
        for path, conf in chaining_configs(conf_dir)]
    steps += [(f"remove {path}", lambda path=path: _remove(path))
              for path in plugin_files(conf_dir, bin_dir) if path.is_file() and _is_ours(path)]
    for step, act in steps:
        try:
            done.append(act())
        except (OSError, KmeshctlError) as err:
            if on_error is None:
                raise
            on_error(step, err)
    return done


def _remove(path: Path) -> str:
    path.unlink()
    return f"removed {path}"


def kubeconfig_json(creds: ApiCredentials) -> str:
    import base64

    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "kmesh-cni",
        "clusters": [{"name": "local", "cluster": {
            "server": creds.server, "certificate-authority-data": base64.b64encode(creds.ca_pem).decode()}}],
        "users": [{"name": "kmesh-cni", "user": {"token": creds.token}}],
        "contexts": [{"name": "kmesh-cni", "context": {"cluster": "local", "user": "kmesh-cni"}}],
    }, indent=2) + "\n"


def in_cluster_credentials(sa_dir: Path = SA_DIR) -> Optional[ApiCredentials]:
    """The agent's own service account (its token rotates: read it every time)."""
    host, port = os.environ.get("KUBERNETES_SERVICE_HOST"), os.environ.get("KUBERNETES_SERVICE_PORT")
    try:
        token = (sa_dir / "token").read_text().strip()
        ca = (sa_dir / "ca.crt").read_bytes()
    except OSError:
        return None
    if not host or not port:
        return None
    server_host = f"[{host}]" if ":" in host else host
    return ApiCredentials(f"https://{server_host}:{port}", ca, token)


def host_has_python(proc_root: Path) -> Optional[bool]:
    """Whether the node has the plugin's interpreter (None: cannot tell from here)."""
    try:
        return (proc_root / "1" / "root" / HOST_PYTHON.lstrip("/")).exists()
    except PermissionError:
        return None
