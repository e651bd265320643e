"""The e2e tier: a real single-node Kubernetes cluster, built from Go modules, on this machine.

The whole node lives in one network namespace `kt-<id>` (its "host network") and one mount
namespace of its own (bound at <run dir>/mntns): etcd, kube-apiserver,
kube-controller-manager, kube-scheduler, containerd, kubelet and kube-proxy run as
processes entered into both with `nsenter --mount --net` (the kubelet's volume mounts and
containerd must share one mount namespace). The node's mount namespace has a bpffs of its
own at /sys/fs/bpf, shared as on a systemd node (the agent's Bidirectional volume needs
that), so the node agent's pinned maps and programs belong to this run alone and the host's
mounts are never changed. Nothing listens outside the network namespace; pods sit on a CNI
bridge inside it. Everything else a run makes is named from its id: run dir
/var/lib/kmeshctl-tier/<id>, cgroup parent /kt-<id>.

    with Tier() as tier:            # or tier = Tier(); tier.up(); ...; tier.down()
        tier.kubectl("get", "nodes")
        tier.exec_in_node(["curl", "-s", "http://10.96.0.10:9153/metrics"])

CLI for developers (root):

    python -m tests.e2e.tier up [--hold]     # bring a cluster up, print its env
    python -m tests.e2e.tier env [ID]        # the env of a running cluster
    python -m tests.e2e.tier down [ID|--all] # remove it (or every tier on the machine)

Inputs: $KMESHCTL_TIER_CACHE/binaries.json and images.json (bash scripts/tier/build.sh).
The run dir is a tmpfs (KMESHCTL_TIER_TMPFS_SIZE, default 16g; 0: plain disk).
Logs: <run dir>/logs/<component>.log; with KMESHCTL_TIER_KEEP_LOGS=DIR, `down` copies
them to DIR/<id>/ before removing the run dir.
"""

from __future__ import annotations

import argparse
import atexit
import base64
import contextlib
import datetime
import ipaddress
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import string
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import yaml

log = logging.getLogger("kmeshctl.tier")

CACHE = Path(os.environ.get("KMESHCTL_TIER_CACHE", "/var/cache/kmeshctl-tier"))
STATE_ROOT = Path(os.environ.get("KMESHCTL_TIER_STATE", "/var/lib/kmeshctl-tier"))
NETNS_DIR = Path("/run/netns")
CGROUP_FS = Path("/sys/fs/cgroup")
BPFFS = Path("/sys/fs/bpf")
# Host paths the kubelet / containerd / libcni write to whatever they are configured with
CONTAINER_LOG_LINKS = Path("/var/log/containers")  # the kubelet's symlinks into podLogsDir
SHIM_SOCKET_DIR = Path("/run/containerd/s")  # containerd 1.6 shim sockets
CNI_CACHE_DIR = Path("/var/lib/cni")  # libcni's results cache (<network>-<id>-<if>)
# The node's CNI dirs and the kmesh CNI plugin's socket dir, as a real node has them (the
# DaemonSet's hostPaths): in the node's mount namespace each is a bind of a dir of the run.
NODE_CNI_BINDS = {"cni/net.d": "/etc/cni/net.d", "cni/bin": "/opt/cni/bin", "kmesh-cni": "/run/kmesh-cni"}
REFERENCE_CNI = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
ADDONS_DIR = Path(__file__).resolve().parent / "addons"
REPO_ROOT = Path(__file__).resolve().parents[2]
BUILD_HINT = "run `bash scripts/tier/build.sh` (as root) to build them"

PREFIX = "kt-"
POD_CIDR = "10.244.0.0/24"
POD_GATEWAY = "10.244.0.1"
SERVICE_CIDR = "10.96.0.0/16"
KUBERNETES_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
CONTEXT = "kmeshctl-tier"
XDS_ADDRESS = "istiod.istio-system.svc:15012"  # the istiod Service the tier deploys
SA_ISSUER = f"https://kubernetes.default.svc.{CLUSTER_DOMAIN}"
NODE_IFACE = "kt0"
NODE_IFACE_PEER = "kt0-sink"
BRIDGE = "kt-br0"

REQUIRED_BINARIES = (
    "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet",
    "kube-proxy", "kubectl", "crictl",
)
REQUIRED_IMAGES = ("pause", "coredns", "istiod")
# Components in start order; down stops them in reverse (kubelet first, see down()).
COMPONENTS = (
    "etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "containerd",
    "kubelet", "kube-proxy",
)


class TierError(RuntimeError):
    """The tier could not be brought up (the message says which step and why)."""


class MissingInputs(TierError):
    """binaries.json / images.json (or an entry of them) is missing."""


# ---------------------------------------------------------------------------------------
# inputs


def load_inputs(cache: Path = CACHE) -> tuple[dict, dict]:
    """binaries.json and images.json, checked: raises MissingInputs naming what is missing."""
    problems = []
    binaries: dict = {}
    images: dict = {}
    bj, ij = cache / "binaries.json", cache / "images.json"
    if bj.exists():
        binaries = json.loads(bj.read_text())
        for name in REQUIRED_BINARIES:
            entry = binaries.get(name)
            if not entry or not os.access(entry.get("path", ""), os.X_OK):
                problems.append(f"binary {name!r} missing from {bj}")
    else:
        problems.append(f"{bj} does not exist")
    if ij.exists():
        images = json.loads(ij.read_text())
        for name in REQUIRED_IMAGES:
            entry = images.get(name)
            if not entry or not Path(entry.get("archive", "")).is_file():
                problems.append(f"image {name!r} missing from {ij}")
    else:
        problems.append(f"{ij} does not exist")
    if problems:
        raise MissingInputs("e2e tier inputs missing: " + "; ".join(problems) + f"; {BUILD_HINT}")
    return binaries, images


# ---------------------------------------------------------------------------------------
# PKI (ECDSA P-256 everywhere: fast to make, accepted by every component)


def _pki():
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    return x509, hashes, serialization, ec, ExtendedKeyUsageOID, NameOID


class _CA:
    def __init__(self, common_name: str, days: int = 30):
        x509, hashes, _, ec, _, NameOID = _pki()
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, cn: str, orgs: Sequence[str] = (), *, server_names: Sequence[str] = (),
              client: bool = True, days: int = 30):
        x509, hashes, _, ec, EKU, NameOID = _pki()
        key = ec.generate_private_key(ec.SECP256R1())
        attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
        now = datetime.datetime.now(datetime.timezone.utc)
        usages = ([EKU.CLIENT_AUTH] if client else []) + ([EKU.SERVER_AUTH] if server_names else [])
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attrs)).issuer_name(self.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_encipherment=False,
                                         key_cert_sign=False, crl_sign=False, content_commitment=False,
                                         data_encipherment=False, key_agreement=False,
                                         encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                           critical=False)
        )
        if server_names:
            sans = []
            for n in server_names:
                try:
                    sans.append(x509.IPAddress(ipaddress.ip_address(n)))
                except ValueError:
                    sans.append(x509.DNSName(n))
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return key, builder.sign(self.key, hashes.SHA256())


def _pem_cert(cert) -> bytes:
    _, _, serialization, *_ = _pki()
    return cert.public_bytes(serialization.Encoding.PEM)


def _pem_key(key) -> bytes:
    _, _, serialization, *_ = _pki()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


def _write(path: Path, data: bytes | str, mode: int = 0o644) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    path.chmod(mode)
    return path


# ---------------------------------------------------------------------------------------
# host helpers


def _run(argv: Sequence[str], *, check: bool = True, timeout: float = 60, input: str | None = None,
         quiet: bool = False) -> subprocess.CompletedProcess:
    p = subprocess.run(list(argv), input=input, capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise TierError(f"`{shlex.join(argv)}` exited {p.returncode}: {(p.stderr or p.stdout).strip()[-2000:]}")
    if not quiet and p.returncode != 0:
        log.debug("%s -> %s: %s", shlex.join(argv), p.returncode, p.stderr.strip())
    return p


def _mounts_under(prefix: Path) -> list[str]:
    out = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True).stdout
    pfx = str(prefix).rstrip("/")
    found = []
    for line in out.splitlines():
        target = line.encode().decode("unicode_escape")  # findmnt -r escapes blanks as \x20
        if target == pfx or target.startswith(pfx + "/"):
            found.append(target)
    return found


def _cgroup_hierarchies() -> list[Path]:
    """Every mounted cgroup hierarchy root (v1 controllers, named ones, and unified)."""
    roots = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            fstype, mountpoint = fields[sep + 1], fields[4]
            if fstype in ("cgroup", "cgroup2"):
                roots.append(Path(mountpoint))
    return roots


def _pids_in_cgroup_tree(path: Path) -> set[int]:
    pids: set[int] = set()
    if not path.is_dir():
        return pids
    for dirpath, _dirs, _files in os.walk(path):
        try:
            pids.update(int(x) for x in Path(dirpath, "cgroup.procs").read_text().split())
        except OSError:
            pass
    return pids


def _netns_inode(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def _pids_in_netns(ns: tuple[int, int]) -> set[int]:
    pids = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry.name}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == ns:
            pids.add(int(entry.name))
    pids.discard(os.getpid())
    return pids


def _kill_pids(pids: set[int], sig: int) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _setns(fd: int) -> None:
    """setns(fd, CLONE_NEWNET) for the calling thread (os.setns is Python 3.12+)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, 0x40000000) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns: {os.strerror(err)}")


def _reap() -> None:
    """Collect exit statuses of our own children (kill() leaves them as zombies otherwise)."""
    with contextlib.suppress(ChildProcessError):
        while True:
            pid, _ = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                break


# ---------------------------------------------------------------------------------------


class Tier:
    """One single-node cluster. `up()` makes it, `down()` leaves nothing of it."""

    def __init__(self, run_id: str | None = None, *, cache: Path = CACHE, state_root: Path = STATE_ROOT,
                 cluster_id: str | None = None, addons: bool = True):
        self.id = run_id or secrets.token_hex(3)
        self.cache = Path(cache)
        self.state_root = Path(state_root)
        self.run_dir = self.state_root / self.id
        self.log_dir = self.run_dir / "logs"
        self.netns = f"{PREFIX}{self.id}"
        self.netns_path = NETNS_DIR / self.netns
        self.node_name = self.netns
        self.cgroup_parent = f"/{self.netns}"
        self.cluster_id = cluster_id or f"tier-{self.id}"
        self.context = CONTEXT
        self.addons = addons
        self.node_ip = f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(250)}.1"
        self.containerd_sock = self.run_dir / "containerd" / "containerd.sock"
        self.pki = self.run_dir / "pki"
        self.kubeconfig = self.run_dir / "kubeconfig"  # the admin one
        self.timings: dict[str, float] = {}
        self.binaries: dict = {}
        self.images: dict = {}
        self.procs: dict[str, int] = {}
        self._popen: dict[str, subprocess.Popen] = {}
        self.mntns_path = self.run_dir / "mntns"
        self._state_file = self.run_dir / "tier.json"
        if self._state_file.exists():  # an existing run: take its facts
            st = json.loads(self._state_file.read_text())
            self.node_ip = st.get("node_ip", self.node_ip)
            self.cluster_id = st.get("cluster_id", self.cluster_id)
            self.procs = {k: int(v) for k, v in st.get("procs", {}).items()}
            self.binaries = st.get("binaries", {})

    # -- context manager -----------------------------------------------------------------

    def __enter__(self) -> "Tier":
        try:
            self.up()
        except BaseException:
            self.down()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    # -- public helpers ------------------------------------------------------------------

    def nsenter(self) -> list[str]:
        """The command prefix that enters the node: its network and mount namespaces."""
        mount = [f"--mount={self.mntns_path}"] if self.mntns_path.exists() else []
        return ["nsenter", *mount, f"--net={self.netns_path}", "--"]

    def exec_in_node(self, cmd: Sequence[str] | str, *, check: bool = True, timeout: float = 120,
                     input: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
        """Run a command on the node: in its network and mount namespaces."""
        argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
        p = subprocess.run(self.nsenter() + argv, input=input, capture_output=True, text=True,
                           timeout=timeout, env={**os.environ, **(env or {})})
        if check and p.returncode != 0:
            raise TierError(f"in {self.netns}: `{shlex.join(argv)}` exited {p.returncode}: "
                            f"{(p.stderr or p.stdout).strip()[-3000:]}")
        return p

    @contextlib.contextmanager
    def in_node_netns(self) -> Iterator[None]:
        """Run the block's network calls (e.g. the kubernetes Python client with
        self.kubeconfig) from inside the node's netns: setns() of the calling thread only,
        undone at the end. Threads started inside the block stay in the node's netns."""
        own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
        node = os.open(self.netns_path, os.O_RDONLY)
        try:
            _setns(node)
            try:
                yield
            finally:
                _setns(own)
        finally:
            os.close(node)
            os.close(own)

    def bin(self, name: str) -> str:
        if not self.binaries:
            self.binaries = json.loads((self.cache / "binaries.json").read_text())
        return self.binaries[name]["path"]

    def kubectl(self, *args: str, check: bool = True, timeout: float = 120,
                input: str | None = None) -> subprocess.CompletedProcess:
        """The built kubectl with the admin kubeconfig, in the node's netns."""
        return self.exec_in_node([self.bin("kubectl"), f"--kubeconfig={self.kubeconfig}",
                                  f"--context={self.context}", *args],
                                 check=check, timeout=timeout, input=input)

    def kubectl_json(self, *args: str, timeout: float = 120):
        """kubectl ... -o json, parsed."""
        return json.loads(self.kubectl(*args, "-o", "json", timeout=timeout).stdout)

    def kmeshctl(self, *args: str, check: bool = True, timeout: float = 300,
                 input: str | None = None) -> subprocess.CompletedProcess:
        """This repository's kmeshctl (the interpreter running the tests), in the node's
        netns, with the admin kubeconfig and context."""
        return self.exec_in_node([sys.executable, "-m", "kmeshctl", f"--kubeconfig={self.kubeconfig}",
                                  f"--context={self.context}", *args],
                                 check=check, timeout=timeout, input=input, env={"PYTHONPATH": str(self.repo)})

    @property
    def cgroup2_dir(self) -> Path | None:
        """The node's cgroup in the v2 hierarchy (/sys/fs/cgroup/unified/kt-<id> on this
        hybrid host): runc puts every pod's processes under it as well, so BPF cgroup
        programs attached here would see the tier's pods and nothing else of the machine.
        The installed node agent attaches at the host's cgroup v2 root, as on a real node
        (its programs act only for the network namespaces it enrolled); down detaches them."""
        for root in _cgroup_hierarchies():
            if (root / "cgroup.controllers").exists():
                return root / self.cgroup_parent.lstrip("/")
        return None

    @property
    def repo(self) -> Path:
        return REPO_ROOT

    def image(self, name: str) -> str:
        """The ref of an image of images.json (as imported into the node's containerd)."""
        if not self.images:
            self.images = json.loads((self.cache / "images.json").read_text())
        return self.images[name]["ref"]

    def crictl(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
        sock = f"unix://{self.containerd_sock}"
        return _run([self.bin("crictl"), "--runtime-endpoint", sock, "--image-endpoint", sock,
                     "--timeout", "30s", *args], check=check, timeout=timeout)

    def env(self) -> dict[str, str]:
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "KMESHCTL_TIER_ID": self.id,
            "KMESHCTL_TIER_CONTEXT": self.context,
            "KMESHCTL_TIER_CLUSTER_ID": self.cluster_id,
            "KMESHCTL_TIER_XDS_ADDRESS": XDS_ADDRESS,
            "KMESHCTL_TIER_NODE_NAME": self.node_name,
            "KMESHCTL_TIER_NODE_IP": self.node_ip,
            "KMESHCTL_TIER_NETNS": self.netns,
            "KMESHCTL_TIER_RUN_DIR": str(self.run_dir),
            "KMESHCTL_TIER_LOG_DIR": str(self.log_dir),
            "KMESHCTL_TIER_NSENTER": shlex.join(self.nsenter()[:-1]),
            "KMESHCTL_TIER_CGROUP2": str(self.cgroup2_dir or ""),
            "KMESHCTL_TIER_KUBECTL": self.bin("kubectl") if (self.cache / "binaries.json").exists() else "",
        }

    # -- up --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _step(self, name: str) -> Iterator[None]:
        t0 = time.monotonic()
        log.info("tier %s: %s ...", self.id, name)
        try:
            yield
        except Exception as e:
            log.error("tier %s: %s failed after %.1f s: %s", self.id, name, time.monotonic() - t0, e)
            raise
        self.timings[name] = round(time.monotonic() - t0, 2)
        log.info("tier %s: %s done in %.1f s", self.id, name, self.timings[name])

    def up(self, *, down_at_exit: bool = True) -> "Tier":
        """Bring the cluster up. With down_at_exit (the default) an atexit hook tears it
        down if the interpreter ends without down() (call detach() to keep it running)."""
        t0 = time.monotonic()
        if down_at_exit:
            atexit.register(self._down_at_exit)
        if os.geteuid() != 0:
            raise TierError("the e2e tier needs root (network namespaces, cgroups, mounts)")
        self.binaries, self.images = load_inputs(self.cache)
        if self.run_dir.exists() or self.netns_path.exists():
            raise TierError(f"tier {self.id} already exists ({self.run_dir}); `down` it first")
        self.run_dir.mkdir(parents=True)
        tmpfs_size = os.environ.get("KMESHCTL_TIER_TMPFS_SIZE", "16g")
        if tmpfs_size not in ("", "0"):
            # The run dir is a tmpfs: image import and pod start do no disk I/O, and down
            # is an unmount instead of deleting a GB of unpacked image layers file by file.
            _run(["mount", "-t", "tmpfs", "-o", f"size={tmpfs_size},mode=0755", f"kmeshctl-tier-{self.id}",
                  str(self.run_dir)])
        for d in ("logs", "pki", "etcd", "kubelet", "containerd/root", "containerd/state", "cni/net.d",
                  "cni/ipam", "cni/bin", "kmesh-cni", "runc", "pod-logs", "config"):
            (self.run_dir / d).mkdir(parents=True, exist_ok=True)
        self._save_state()
        with self._step("netns"):
            self._make_netns()
        with self._step("cgroups"):
            self._make_cgroups()
        with self._step("mount namespace"):
            self._make_mntns()
        with self._step("pki"):
            self._make_pki()
        with self._step("etcd"):
            self._start_etcd()
        with self._step("kube-apiserver"):
            self._start_apiserver()
        with self._step("controller-manager+scheduler"):
            self._start_controllers()
        if self.addons:  # CRDs go in while the node starts (_apply_crds_wait joins)
            self._apply_crds_start()
        with self._step("containerd"):
            self._start_containerd()
        with self._step("sandbox image"):
            self._import_images_start()
        with self._step("kubelet"):
            self._start_kubelet()
        with self._step("kube-proxy"):
            self._start_kube_proxy()
        with self._step("node Ready"):
            self._wait_node_ready()
        if self.addons:
            with self._step("coredns"):
                self._wait_images(["coredns"])
                self._apply_coredns()
            with self._step("crds"):
                self._apply_crds_wait()
            with self._step("istiod"):
                self._wait_images(["istiod"])
                self._apply_istiod()
            with self._step("add-ons Ready"):
                self._wait_addons()
        with self._step("images"):
            self._import_images_wait()
        self.timings["up total"] = round(time.monotonic() - t0, 2)
        log.info("tier %s: up in %.1f s (%s)", self.id, self.timings["up total"],
                 ", ".join(f"{k} {v}s" for k, v in self.timings.items()))
        return self

    def detach(self) -> None:
        """Leave the cluster running when this process exits (`down` it later)."""
        atexit.unregister(self._down_at_exit)

    def _down_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.down()

    def _save_state(self) -> None:
        _write(self._state_file, json.dumps({
            "id": self.id, "node_ip": self.node_ip, "cluster_id": self.cluster_id,
            "netns": self.netns, "procs": self.procs, "binaries": self.binaries,
            "cgroup_parent": self.cgroup_parent,
        }, indent=2))

    def _make_netns(self) -> None:
        _run(["ip", "netns", "add", self.netns])
        ip = ["ip", "-n", self.netns]
        _run(ip + ["link", "set", "lo", "up"])
        # The node's interface: one end of a veth pair whose other end is also in the
        # namespace, with no address (this kernel has no dummy driver). The default route
        # points into it: host-network processes can connect() to ClusterIPs (kube-proxy's
        # DNAT runs after the route lookup), and nothing can leave the namespace (nobody
        # answers ARP on the far end, so whatever else is sent there is dropped).
        _run(ip + ["link", "add", NODE_IFACE, "type", "veth", "peer", "name", NODE_IFACE_PEER])
        _run(ip + ["addr", "add", f"{self.node_ip}/32", "dev", NODE_IFACE])
        _run(ip + ["link", "set", NODE_IFACE_PEER, "arp", "off", "up"])
        _run(ip + ["link", "set", NODE_IFACE, "up"])
        _run(ip + ["route", "add", "default", "dev", NODE_IFACE])
        for key, value in (("net.ipv4.ip_forward", "1"), ("net.bridge.bridge-nf-call-iptables", "1"),
                           ("net.bridge.bridge-nf-call-ip6tables", "1")):
            p = _run(self.nsenter() + ["sysctl", "-qw", f"{key}={value}"], check=False)
            if p.returncode != 0:
                log.warning("sysctl %s=%s in %s: %s", key, value, self.netns, p.stderr.strip())
        _write(self.run_dir / "resolv.conf", "# e2e tier: no DNS outside the node's netns\n"
                                             "nameserver 127.0.0.53\n")

    def _make_mntns(self) -> None:
        """The node's mount namespace: a copy of the host's mounts, private, plus a bpffs
        of its own at /sys/fs/bpf made shared, as systemd makes mounts on a real node (a
        hostPath volume with mountPropagation Bidirectional, the node agent's /sys/fs/bpf,
        needs a shared source, else containerd refuses the container). The bind at
        <run dir>/mntns keeps it alive; unmounting that at down ends it with every mount
        the kubelet and containerd made in it."""
        self.mntns_path.touch()
        _run(["unshare", f"--mount={self.mntns_path}", "--propagation", "private", "true"])
        _run(["nsenter", f"--mount={self.mntns_path}", "--", "sh", "-c",
              # The host's own bpffs (if any) goes first, in this namespace only: containerd
              # judges the propagation by the lowest mount at the path, not the top one.
              f"while umount {BPFFS} 2>/dev/null; do :; done; "
              f"mount -t bpf bpffs {BPFFS} && mount --make-shared {BPFFS}"])
        # The CNI dirs at the paths a real node uses (the agent's hostPaths), private to this
        # run; the mount points are made on the host if missing (empty dirs, left in place:
        # another run may be using them as its mount points).
        binds = " && ".join(f"mkdir -p {target} && mount --bind {self.run_dir / source} {target}"
                            for source, target in NODE_CNI_BINDS.items())
        _run(["nsenter", f"--mount={self.mntns_path}", "--", "sh", "-c", binds])
        for name in ("bridge", "host-local", "portmap", "loopback"):
            (self.run_dir / "cni" / "bin" / name).symlink_to(REFERENCE_CNI / name)

    def _remove_bpf_datapath(self) -> None:
        """A node agent stopped by `down` (not uninstalled) keeps its programs attached to
        the host's cgroup v2 root, as on a restart: detach and unpin them while the node's
        bpffs still exists (`kmeshctl node cleanup`, what an operator would run)."""
        if not self.mntns_path.exists() or not self.netns_path.exists():
            return
        self.exec_in_node([sys.executable, "-m", "kmeshctl", "node", "cleanup", "--ignore-not-found"],
                          env={"PYTHONPATH": str(self.repo)}, timeout=60)

    def _make_cgroups(self) -> None:
        for root in _cgroup_hierarchies():
            d = root / self.cgroup_parent.lstrip("/")
            d.mkdir(exist_ok=True)
            if (root / "cpuset.cpus").exists():  # v1 cpuset: an empty set refuses tasks
                for f in ("cpuset.cpus", "cpuset.mems"):
                    (d / f).write_text((root / f).read_text())

    def _make_pki(self) -> None:
        pki = self.pki
        ca = _CA(f"kmeshctl-tier-ca-{self.id}")
        _write(pki / "ca.crt", _pem_cert(ca.cert))
        _write(pki / "ca.key", _pem_key(ca.key), 0o600)
        _, _, serialization, ec, *_ = _pki()
        sa = ec.generate_private_key(ec.SECP256R1())
        _write(pki / "sa.key", _pem_key(sa), 0o600)
        _write(pki / "sa.pub", sa.public_key().public_bytes(serialization.Encoding.PEM,
                                                            serialization.PublicFormat.SubjectPublicKeyInfo))

        def issue(name: str, cn: str, orgs: Sequence[str] = (), **kw) -> tuple[Path, Path]:
            key, cert = ca.issue(cn, orgs, **kw)
            return _write(pki / f"{name}.crt", _pem_cert(cert)), _write(pki / f"{name}.key", _pem_key(key), 0o600)

        svc = ["kubernetes", "kubernetes.default", "kubernetes.default.svc",
               f"kubernetes.default.svc.{CLUSTER_DOMAIN}", "localhost"]
        issue("apiserver", "kube-apiserver", client=False,
              server_names=[self.node_ip, KUBERNETES_SERVICE_IP, "127.0.0.1", *svc])
        issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ["system:masters"])
        issue("kubelet-server", self.node_name, client=False, server_names=[self.node_name, self.node_ip, "127.0.0.1"])
        server = f"https://{self.node_ip}:6443"
        users = {
            "admin": ("kubernetes-admin", ["system:masters"]),
            "kube-controller-manager": ("system:kube-controller-manager", []),
            "kube-scheduler": ("system:kube-scheduler", []),
            "kubelet": (f"system:node:{self.node_name}", ["system:nodes"]),
            "kube-proxy": ("system:kube-proxy", []),
        }
        ca_b64 = base64.b64encode(_pem_cert(ca.cert)).decode()
        for user, (cn, orgs) in users.items():
            crt, key = issue(user, cn, orgs)
            cfg = {
                "apiVersion": "v1", "kind": "Config",
                "clusters": [{"name": self.cluster_id, "cluster": {
                    "server": server, "certificate-authority-data": ca_b64}}],
                "users": [{"name": user, "user": {
                    "client-certificate-data": base64.b64encode(crt.read_bytes()).decode(),
                    "client-key-data": base64.b64encode(key.read_bytes()).decode()}}],
                "contexts": [{"name": self.context, "context": {"cluster": self.cluster_id, "user": user}}],
                "current-context": self.context,
            }
            path = self.kubeconfig if user == "admin" else self.run_dir / "config" / f"{user}.kubeconfig"
            _write(path, yaml.safe_dump(cfg), 0o600)

    # processes

    def _spawn(self, name: str, argv: Sequence[str]) -> None:
        logf = open(self.log_dir / f"{name}.log", "ab")
        try:
            p = subprocess.Popen(self.nsenter() + list(argv), stdin=subprocess.DEVNULL, stdout=logf,
                                 stderr=subprocess.STDOUT, start_new_session=True, cwd=self.run_dir)
        finally:
            logf.close()
        self._popen[name] = p
        self.procs[name] = p.pid
        self._save_state()

    def _check_alive(self, name: str) -> None:
        pid = self.procs.get(name)
        p = self._popen.get(name)
        dead = (p.poll() is not None) if p is not None else not (pid and _alive(pid))
        if dead:
            raise TierError(f"{name} exited{f' with {p.returncode}' if p is not None else ''}; "
                            f"last lines of {self.log_dir / (name + '.log')}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, lines: int = 25) -> str:
        try:
            return "\n".join((self.log_dir / f"{name}.log").read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _wait(self, what: str, probe: Callable[[], bool], timeout: float, watch: Sequence[str] = (),
              interval: float = 0.5) -> None:
        deadline = time.monotonic() + timeout
        last_err = ""
        while True:
            for name in watch:
                self._check_alive(name)
            try:
                if probe():
                    return
            except (TierError, subprocess.SubprocessError, OSError) as e:
                last_err = str(e)
            if time.monotonic() > deadline:
                logs = "".join(f"\n--- {n}.log ---\n{self.log_tail(n)}" for n in watch)
                raise TierError(f"timed out after {timeout:.0f} s waiting for {what}"
                                f"{': ' + last_err[-1500:] if last_err else ''}{logs}")
            time.sleep(interval)

    def _http_ok(self, url: str, *extra: str) -> bool:
        p = self.exec_in_node(["curl", "-sf", "--max-time", "3", *extra, url], check=False, timeout=10)
        return p.returncode == 0

    def _start_etcd(self) -> None:
        self._spawn("etcd", [
            self.bin("etcd"), "--name", self.node_name, "--data-dir", str(self.run_dir / "etcd"),
            "--listen-client-urls", "http://127.0.0.1:2379", "--advertise-client-urls", "http://127.0.0.1:2379",
            "--listen-peer-urls", "http://127.0.0.1:2380", "--initial-advertise-peer-urls", "http://127.0.0.1:2380",
            "--initial-cluster", f"{self.node_name}=http://127.0.0.1:2380", "--initial-cluster-state", "new",
            "--listen-metrics-urls", "http://127.0.0.1:2381", "--unsafe-no-fsync",
            "--quota-backend-bytes", str(2 * 1024**3), "--log-level", "warn",
        ])
        self._wait("etcd /health", lambda: self._http_ok("http://127.0.0.1:2379/health"), 60, ["etcd"])

    def _start_apiserver(self) -> None:
        pki = self.pki
        self._spawn("kube-apiserver", [
            self.bin("kube-apiserver"),
            "--etcd-servers=http://127.0.0.1:2379",
            f"--advertise-address={self.node_ip}", "--bind-address=0.0.0.0", "--secure-port=6443",
            f"--cert-dir={pki / 'apiserver-certdir'}",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            "--kubelet-preferred-address-types=InternalIP,Hostname",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--service-account-issuer={SA_ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--profiling=false",
            "--v=1",
        ])
        self._wait("kube-apiserver /readyz",
                   lambda: self.kubectl("get", "--raw", "/readyz", check=False, timeout=15).returncode == 0,
                   120, ["etcd", "kube-apiserver"], interval=1)

    def _start_controllers(self) -> None:
        pki, cfg = self.pki, self.run_dir / "config"
        kcm = cfg / "kube-controller-manager.kubeconfig"
        self._spawn("kube-controller-manager", [
            self.bin("kube-controller-manager"),
            f"--kubeconfig={kcm}", f"--authentication-kubeconfig={kcm}", f"--authorization-kubeconfig={kcm}",
            "--bind-address=127.0.0.1", f"--cert-dir={pki / 'kcm-certdir'}",
            "--use-service-account-credentials=true",
            f"--root-ca-file={pki / 'ca.crt'}",
            f"--service-account-private-key-file={pki / 'sa.key'}",
            f"--cluster-signing-cert-file={pki / 'ca.crt'}", f"--cluster-signing-key-file={pki / 'ca.key'}",
            "--controllers=*,bootstrapsigner,tokencleaner",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--cluster-name={self.cluster_id}",
            "--leader-elect=false", "--v=1",
        ])
        sch = cfg / "kube-scheduler.kubeconfig"
        self._spawn("kube-scheduler", [
            self.bin("kube-scheduler"),
            f"--kubeconfig={sch}", f"--authentication-kubeconfig={sch}", f"--authorization-kubeconfig={sch}",
            "--bind-address=127.0.0.1", "--leader-elect=false", "--v=1",
        ])

        def ready() -> bool:
            return (self._http_ok("https://127.0.0.1:10257/healthz", "-k")
                    and self._http_ok("https://127.0.0.1:10259/healthz", "-k"))

        self._wait("controller-manager and scheduler /healthz", ready, 90,
                   ["kube-apiserver", "kube-controller-manager", "kube-scheduler"])

    def _start_containerd(self) -> None:
        c = self.run_dir / "containerd"
        cni_conf = {
            "cniVersion": "0.4.0", "name": self.netns,
            "plugins": [
                {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": False, "hairpinMode": True,
                 "ipam": {"type": "host-local", "dataDir": str(self.run_dir / "cni" / "ipam"),
                          "ranges": [[{"subnet": POD_CIDR, "gateway": POD_GATEWAY}]],
                          "routes": [{"dst": "0.0.0.0/0"}]}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        }
        _write(self.run_dir / "cni" / "net.d" / "10-kt.conflist", json.dumps(cni_conf, indent=2))
        sandbox = self.images["pause"]["ref"]
        config = f"""\
version = 2
root = "{c / 'root'}"
state = "{c / 'state'}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "{self.containerd_sock}"

[ttrpc]
  address = "{self.containerd_sock}.ttrpc"

[debug]
  address = ""
  level = "info"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "{c / 'opt'}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{sandbox}"
  disable_apparmor = true
  # this machine drops CAP_SYS_RESOURCE: runc cannot set the sandbox's oom_score_adj
  # of -998 ("nsexec: failed to update /proc/self/oom_score_adj: Permission denied")
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{self.run_dir / 'runc'}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{NODE_CNI_BINDS['cni/bin']}"
    conf_dir = "{NODE_CNI_BINDS['cni/net.d']}"
    max_conf_num = 1
"""
        cfg = _write(c / "config.toml", config)
        self._spawn("containerd", ["containerd", "--config", str(cfg)])
        self._wait("containerd socket",
                   lambda: self.containerd_sock.exists() and _run(
                       ["ctr", "--address", str(self.containerd_sock), "version"], check=False).returncode == 0,
                   60, ["containerd"])

    def _ctr(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return _run(["ctr", "--address", str(self.containerd_sock), "-n", "k8s.io", *args], timeout=timeout)

    def _import_image(self, name: str) -> None:
        entry = self.images[name]
        ref, archive = entry["ref"], entry["archive"]
        if not Path(archive).is_file():
            log.warning("image %s: archive %s missing, skipped", name, archive)
            return
        out = self._ctr("images", "import", archive).stdout
        refs = entry.get("refs") or [ref]
        present = set(self._ctr("images", "ls", "-q").stdout.split())
        if ref not in present:
            # an archive whose index names the image differently: tag the imported name
            imported = [ln.split()[1] for ln in out.splitlines() if ln.startswith("unpacking ")]
            if len(imported) == 1:
                self._ctr("images", "tag", "--force", imported[0], ref)
            present = set(self._ctr("images", "ls", "-q").stdout.split())
        missing = [r for r in refs if r not in present]
        if missing:
            raise TierError(f"image {name}: {missing} not in containerd after importing {archive} "
                            f"(ctr said: {out.strip()[-500:]})")

    def _import_images_start(self) -> None:
        """The sandbox image now (the kubelet needs it first), the others in the
        background while the kubelet and kube-proxy start (_import_images_wait)."""
        import concurrent.futures

        self._import_image("pause")
        self._import_pool = concurrent.futures.ThreadPoolExecutor(2, thread_name_prefix="tier-import")
        first = ("coredns", "istiod")  # the add-ons' images first, the big node image last
        order = sorted((n for n in self.images if n != "pause"),
                       key=lambda n: (n not in first, n == "kmeshctl-node", n))
        self._import_futures = {n: self._import_pool.submit(self._import_image, n) for n in order}

    def _wait_images(self, names: Sequence[str]) -> None:
        errors = []
        for name in names:
            fut = getattr(self, "_import_futures", {}).get(name)
            if fut is None:
                continue
            try:
                fut.result(timeout=600)
            except Exception as e:  # noqa: BLE001
                errors.append(f"{name}: {e}")
        if errors:
            raise TierError("image import failed: " + "; ".join(errors))

    def _import_images_wait(self) -> None:
        self._wait_images(list(getattr(self, "_import_futures", {})))
        if getattr(self, "_import_pool", None):
            self._import_pool.shutdown()
        # the CRI view of the same store
        listed = self.crictl("images", "-o", "json").stdout
        tags = {t for img in json.loads(listed).get("images", []) for t in img.get("repoTags") or []}
        missing = [r for e in self.images.values() if Path(e["archive"]).is_file()
                   for r in (e.get("refs") or [e["ref"]]) if not ({r, "docker.io/" + r} & tags)]
        if missing:
            raise TierError(f"images imported but not seen by the CRI: {missing}")

    def _start_kubelet(self) -> None:
        pki = self.pki
        conf = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
            "authentication": {"anonymous": {"enabled": False}, "webhook": {"enabled": True},
                               "x509": {"clientCAFile": str(pki / "ca.crt")}},
            "authorization": {"mode": "Webhook"},
            "cgroupDriver": "cgroupfs", "cgroupRoot": self.cgroup_parent, "cgroupsPerQOS": True,
            "failSwapOn": False,
            "clusterDNS": [DNS_SERVICE_IP], "clusterDomain": CLUSTER_DOMAIN,
            "containerRuntimeEndpoint": f"unix://{self.containerd_sock}",
            "resolvConf": str(self.run_dir / "resolv.conf"),
            "tlsCertFile": str(pki / "kubelet-server.crt"), "tlsPrivateKeyFile": str(pki / "kubelet-server.key"),
            "address": self.node_ip, "port": 10250, "readOnlyPort": 0,
            "healthzBindAddress": "127.0.0.1", "healthzPort": 10248,
            "podLogsDir": str(self.run_dir / "pod-logs"),
            "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "nodefs.inodesFree": "1%",
                             "imagefs.available": "1%", "imagefs.inodesFree": "1%"},
            "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
            "serializeImagePulls": False,
            "rotateCertificates": False, "serverTLSBootstrap": False,
            "protectKernelDefaults": False,
            "maxPods": 110,
            "nodeStatusReportFrequency": "10s",
        }
        cfg = _write(self.run_dir / "config" / "kubelet.yaml", yaml.safe_dump(conf))
        self._spawn("kubelet", [
            self.bin("kubelet"), f"--config={cfg}",
            f"--kubeconfig={self.run_dir / 'config' / 'kubelet.kubeconfig'}",
            f"--root-dir={self.run_dir / 'kubelet'}", f"--cert-dir={pki / 'kubelet-certdir'}",
            f"--hostname-override={self.node_name}", f"--node-ip={self.node_ip}",
            "--v=1",
        ])
        self._wait("kubelet /healthz", lambda: self._http_ok("http://127.0.0.1:10248/healthz"), 90,
                   ["containerd", "kubelet"])

    def _start_kube_proxy(self) -> None:
        mode = os.environ.get("KMESHCTL_TIER_PROXY_MODE", "nftables")
        conf = {
            "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
            "clientConnection": {"kubeconfig": str(self.run_dir / "config" / "kube-proxy.kubeconfig")},
            "mode": mode, "clusterCIDR": POD_CIDR, "hostnameOverride": self.node_name,
            "bindAddress": "0.0.0.0",
            "healthzBindAddress": "127.0.0.1:10256", "metricsBindAddress": "127.0.0.1:10249",
            # 0: leave the (partly host-global) conntrack sysctls alone
            "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s",
                          "tcpCloseWaitTimeout": "0s"},
        }
        cfg = _write(self.run_dir / "config" / "kube-proxy.yaml", yaml.safe_dump(conf))
        self._spawn("kube-proxy", [self.bin("kube-proxy"), f"--config={cfg}", "--v=1"])
        self._wait("kube-proxy /healthz", lambda: self._http_ok("http://127.0.0.1:10256/healthz"), 60,
                   ["kube-proxy"])

    def _wait_node_ready(self) -> None:
        def ready() -> bool:
            p = self.kubectl("get", "node", self.node_name, "-o",
                             'jsonpath={.status.conditions[?(@.type=="Ready")].status}', check=False)
            return p.stdout.strip() == "True"

        self._wait(f"node {self.node_name} Ready", ready, 120, ["containerd", "kubelet", "kube-proxy"], 1)
        self._wait("ServiceAccount default/default",
                   lambda: self.kubectl("get", "sa", "default", "-n", "default", check=False).returncode == 0,
                   60, ["kube-controller-manager"])

    # add-ons

    def addon_vars(self) -> dict[str, str]:
        return {
            "CLUSTER_ID": self.cluster_id, "CLUSTER_DOMAIN": CLUSTER_DOMAIN, "DNS_SERVICE_IP": DNS_SERVICE_IP,
            "NODE_NAME": self.node_name,
            **{f"IMAGE_{k.upper().replace('-', '_')}": v["ref"] for k, v in self.images.items()},
        }

    def apply_template(self, path: Path) -> None:
        text = string.Template(path.read_text()).substitute(self.addon_vars())
        self.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=kmeshctl-tier",
                     "-f", "-", input=text, timeout=180)

    def _apply_coredns(self) -> None:
        self.apply_template(ADDONS_DIR / "coredns.yaml")

    def _crd_sources(self) -> list[Path]:
        src = self.binaries.get("sources", {})
        istio = Path(src["istio"]) if src.get("istio") else None
        gw = Path(src["gateway-api"]) if src.get("gateway-api") else None
        if istio is None or gw is None:
            modcache = Path(_run(["go", "env", "GOMODCACHE"]).stdout.strip())
            istio = istio or max(modcache.glob("istio.io/istio@*/manifests/charts/base/files/crd-all.gen.yaml"),
                                 key=lambda p: p.stat().st_mtime).parents[4]
            gw = gw or sorted(modcache.glob("sigs.k8s.io/gateway-api@v*"))[-1]
        files = [istio / "manifests/charts/base/files/crd-all.gen.yaml"]
        gw_dir = gw / "config/crd/experimental"
        files += sorted(p for p in gw_dir.glob("gateway.networking*.yaml") if "vap_" not in p.name)
        for f in files:
            if not f.is_file():
                raise TierError(f"CRD source {f} missing")
        return files

    def _apply_crds(self) -> None:
        files = [a for f in self._crd_sources() for a in ("-f", str(f))]
        self.kubectl("apply", "--server-side", "--force-conflicts", "--field-manager=kmeshctl-tier",
                     *files, timeout=300)
        self.kubectl("wait", "--for=condition=Established", "crd", "--all", "--timeout=120s", timeout=150)

    def _apply_crds_start(self) -> None:
        import concurrent.futures

        t0 = time.monotonic()

        def run() -> float:
            self._apply_crds()
            return time.monotonic() - t0

        self._crd_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tier-crds")
        self._crd_future = self._crd_pool.submit(run)

    def _apply_crds_wait(self) -> None:
        try:
            took = self._crd_future.result(timeout=400)
            log.info("tier %s: CRDs (Istio, Gateway API) applied and Established %.1f s after the "
                     "apiserver was up", self.id, took)
        finally:
            self._crd_pool.shutdown()

    def _apply_istiod(self) -> None:
        self.apply_template(ADDONS_DIR / "istiod.yaml")

    def _wait_addons(self) -> None:
        watch = ["kube-apiserver", "kubelet", "containerd"]
        for ns, deploy in (("kube-system", "coredns"), ("istio-system", "istiod")):
            def ready(ns=ns, deploy=deploy) -> bool:
                p = self.kubectl("get", "deploy", deploy, "-n", ns, "-o", "jsonpath={.status.readyReplicas}",
                                 check=False)
                return p.stdout.strip() not in ("", "0")
            try:
                self._wait(f"deployment {ns}/{deploy} Ready", ready, 180, watch, 1)
            except TierError as e:
                pods = self.kubectl("get", "pods", "-n", ns, "-o", "wide", check=False).stdout
                desc = self.kubectl("describe", "pods", "-n", ns, check=False).stdout[-3000:]
                raise TierError(f"{e}\n--- pods ---\n{pods}\n--- describe ---\n{desc}") from None
        self._wait("ConfigMap default/istio-ca-root-cert",
                   lambda: self.kubectl("get", "cm", "istio-ca-root-cert", "-n", "default",
                                        check=False).returncode == 0, 120, watch, 1)

    # -- down ------------------------------------------------------------------------------

    def down(self, *, graceful: bool = True) -> dict[str, float]:
        """Remove everything of this run. Idempotent; each step goes on after a failure and
        the failures are raised together at the end."""
        t0 = time.monotonic()
        errors: list[str] = []
        times: dict[str, float] = {}

        def step(name: str, fn: Callable[[], None]) -> None:
            s = time.monotonic()
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - go on, report at the end
                errors.append(f"{name}: {e}")
                log.error("tier %s down: %s: %s", self.id, name, e)
            times[name] = round(time.monotonic() - s, 2)

        if not (self.run_dir.exists() or self.netns_path.exists() or self._cgroup_dirs()):
            return times
        log.info("tier %s: down ...", self.id)
        pool = getattr(self, "_import_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        step("stop kubelet", lambda: self._stop("kubelet", 5))
        if graceful:
            step("stop pods", self._stop_pods)
        for name in ("kube-proxy", "kube-scheduler", "kube-controller-manager", "containerd",
                     "kube-apiserver", "etcd"):
            step(f"stop {name}", lambda name=name: self._stop(name, 5))
        step("kill leftovers", self._kill_leftovers)
        step("bpf data path", self._remove_bpf_datapath)
        keep = os.environ.get("KMESHCTL_TIER_KEEP_LOGS")
        if keep and self.log_dir.is_dir():
            step("keep logs", lambda: shutil.copytree(self.log_dir, Path(keep) / self.id, dirs_exist_ok=True))
        step("unmount", self._unmount_all)
        step("netns", self._delete_netns)
        step("cgroups", self._delete_cgroups)
        step("host files", self._delete_host_files)
        step("run dir", self._delete_run_dir)
        _reap()
        times["down total"] = round(time.monotonic() - t0, 2)
        self.timings.update({f"down: {k}": v for k, v in times.items()})
        log.info("tier %s: down in %.1f s", self.id, times["down total"])
        if errors:
            raise TierError(f"tier {self.id} down left problems: " + "; ".join(errors))
        return times

    def _stop(self, name: str, grace: float) -> None:
        pid = self.procs.get(name)
        if not pid or not _alive(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and _alive(pid):
            _reap()
            time.sleep(0.1)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        _reap()

    def _stop_pods(self) -> None:
        pid = self.procs.get("containerd")
        if not (pid and _alive(pid) and self.containerd_sock.exists() and (self.cache / "binaries.json").exists()):
            return
        ids = self.crictl("ps", "-q", check=False).stdout.split()
        sock = f"unix://{self.containerd_sock}"
        # SIGTERM and a 2 s grace for every container at once (crictl stop goes one by one)
        stops = [subprocess.Popen([self.bin("crictl"), "--runtime-endpoint", sock, "stop", "--timeout", "2", i],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in ids]
        for p in stops:
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=30)
        self.crictl("rmp", "-fa", check=False, timeout=90)

    def _shim_sockets(self, pids: set[int]) -> list[Path]:
        """containerd 1.6 puts shim sockets at /run/containerd/s/sha256(<address>/<ns>/<id>)."""
        import hashlib

        socks = []
        for pid in pids:
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            args = [a.decode(errors="replace") for a in argv]
            if not args or not args[0].endswith("containerd-shim-runc-v2"):
                continue
            opts = {args[i]: args[i + 1] for i in range(1, len(args) - 1) if args[i].startswith("-")}
            if opts.get("-address") and opts.get("-id"):
                key = os.path.join(opts["-address"], opts.get("-namespace", "k8s.io"), opts["-id"])
                socks.append(SHIM_SOCKET_DIR / hashlib.sha256(key.encode()).hexdigest())
        return socks

    def _kill_leftovers(self) -> None:
        """Every process in the node's netns or under the /kt-<id> cgroups (shims, pods)."""
        ns = _netns_inode(self.netns_path)
        stale_socks: list[Path] = []
        for attempt in range(50):
            pids = set()
            if ns:
                pids |= _pids_in_netns(ns)
            for d in self._cgroup_dirs():
                pids |= _pids_in_cgroup_tree(d)
            pids.discard(os.getpid())
            pids = {p for p in pids if _alive(p)}
            if not pids:
                break
            stale_socks += self._shim_sockets(pids)
            _kill_pids(pids, signal.SIGTERM if attempt == 0 else signal.SIGKILL)
            time.sleep(0.5 if attempt == 0 else 0.1)
            _reap()
        else:
            raise TierError(f"processes would not die: {sorted(pids)}")
        self._stale_shim_sockets = stale_socks

    def _unmount_all(self) -> None:
        for attempt in range(10):
            targets = _mounts_under(self.run_dir)
            if not targets:
                return
            for t in sorted(targets, key=lambda t: t.count("/"), reverse=True):
                if subprocess.run(["umount", t], capture_output=True).returncode != 0:
                    subprocess.run(["umount", "-l", t], capture_output=True)
        left = _mounts_under(self.run_dir)
        if left:
            raise TierError(f"mounts left under {self.run_dir}: {left}")

    def _delete_netns(self) -> None:
        if self.netns_path.exists():
            p = _run(["ip", "netns", "del", self.netns], check=False)
            if p.returncode != 0 and self.netns_path.exists():
                subprocess.run(["umount", "-l", str(self.netns_path)], capture_output=True)
                with contextlib.suppress(OSError):
                    self.netns_path.unlink()
        if self.netns_path.exists():
            raise TierError(f"{self.netns_path} still exists")

    def _cgroup_dirs(self) -> list[Path]:
        return [d for d in (root / self.cgroup_parent.lstrip("/") for root in _cgroup_hierarchies()) if d.is_dir()]

    def _delete_cgroups(self) -> None:
        left = []
        for top in self._cgroup_dirs():
            for _ in range(20):
                for dirpath, _dirs, _files in os.walk(top, topdown=False):
                    with contextlib.suppress(OSError):
                        os.rmdir(dirpath)
                if not top.exists():
                    break
                _kill_pids(_pids_in_cgroup_tree(top), signal.SIGKILL)
                time.sleep(0.1)
            if top.exists():
                left.append(str(top))
        if left:
            raise TierError(f"cgroups left: {left}")

    def _delete_host_files(self) -> None:
        """What the kubelet and containerd write at fixed host paths: /var/log/containers
        links into this run dir, shim sockets of killed shims."""
        if CONTAINER_LOG_LINKS.is_dir():
            for link in CONTAINER_LOG_LINKS.iterdir():
                with contextlib.suppress(OSError):
                    if link.is_symlink() and os.readlink(link).startswith(str(self.run_dir) + "/"):
                        link.unlink()
        for sock in getattr(self, "_stale_shim_sockets", []):
            with contextlib.suppress(FileNotFoundError):
                sock.unlink()
        results = CNI_CACHE_DIR / "results"
        if results.is_dir():
            for f in results.glob(f"{self.netns}-*"):
                with contextlib.suppress(FileNotFoundError):
                    f.unlink()
        # directories these made, if nothing else uses them
        for d in (results, CNI_CACHE_DIR, CONTAINER_LOG_LINKS, SHIM_SOCKET_DIR, SHIM_SOCKET_DIR.parent):
            with contextlib.suppress(OSError):
                d.rmdir()

    def _delete_run_dir(self) -> None:
        if not self.run_dir.exists():
            return
        if _mounts_under(self.run_dir):  # never rm -rf through a mount (hostPath binds)
            raise TierError(f"not removing {self.run_dir}: mounts remain under it")
        # rm's --one-file-system: never into a mount that appeared since the check
        _run(["rm", "-rf", "--one-file-system", str(self.run_dir)], timeout=300)
        with contextlib.suppress(OSError):
            self.state_root.rmdir()  # the last run's parent dir, if no other run is there

    # -- discovery of earlier runs --------------------------------------------------------

    @classmethod
    def existing_ids(cls, state_root: Path = STATE_ROOT) -> list[str]:
        ids = set()
        if NETNS_DIR.is_dir():
            ids |= {p.name[len(PREFIX):] for p in NETNS_DIR.iterdir() if p.name.startswith(PREFIX)}
        if state_root.is_dir():
            ids |= {p.name for p in state_root.iterdir() if p.is_dir()}
        for root in _cgroup_hierarchies():
            with contextlib.suppress(OSError):
                ids |= {p.name[len(PREFIX):] for p in root.iterdir() if p.is_dir() and p.name.startswith(PREFIX)}
        return sorted(ids)


# ---------------------------------------------------------------------------------------
# CLI


def _print_env(tier: Tier) -> None:
    for k, v in tier.env().items():
        print(f"export {k}={shlex.quote(v)}")
    print(f"# kubectl: {tier.env()['KMESHCTL_TIER_NSENTER']} {tier.env()['KMESHCTL_TIER_KUBECTL']} "
          f"--kubeconfig {tier.kubeconfig} get pods -A")
    # The cluster's addresses are only routed inside the tier's netns: from the host they
    # would leave the machine, so the printed kmeshctl line runs in that netns.
    print(f"# kmeshctl: ip netns exec {tier.netns} env KUBECONFIG={shlex.quote(str(tier.kubeconfig))} "
          f"kmeshctl install --xds-address {XDS_ADDRESS} --cluster-id {tier.cluster_id}"
          + (f" --image {tier.image('kmeshctl-node')}" if (tier.cache / "images.json").exists() else ""))


HOLDER_PID = "hold.pid"


def _end_holder(tier: "Tier", limit_s: float = 300.0) -> bool:
    """End the `up --hold` process holding `tier`, which tears it down as it exits.

    True when such a process ran and has exited within `limit_s` seconds; False when none
    holds the tier (or it did not exit), leaving the teardown to the caller.
    """
    try:
        pid = int((tier.run_dir / HOLDER_PID).read_text())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return False
    if b"tests.e2e.tier" not in cmdline or pid == os.getpid():
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.5)
    return False


def _running(pid: int) -> bool:
    """Whether `pid` still runs (a zombie its parent has not reaped yet has exited)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.e2e.tier", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="bring a cluster up and print its env")
    up.add_argument("--id", help="run id (default: random)")
    up.add_argument("--no-addons", action="store_true", help="no CoreDNS / CRDs / istiod")
    up.add_argument("--hold", action="store_true", help="stay in the foreground; Ctrl-C tears down")
    e = sub.add_parser("env", help="print the env of a running cluster")
    e.add_argument("id", nargs="?")
    d = sub.add_parser("down", help="tear a cluster down")
    d.add_argument("id", nargs="?")
    d.add_argument("--all", action="store_true", help="every tier on this machine (leftovers too)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)

    if args.cmd == "up":
        tier = Tier(args.id, addons=not args.no_addons)
        done = False

        def teardown(*_a) -> None:
            nonlocal done
            if not done:
                done = True
                with contextlib.suppress(Exception):
                    tier.down()

        def on_signal(signum, _frame) -> None:
            teardown()
            sys.exit(128 + signum)

        atexit.register(teardown)
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        try:
            tier.up()
        except MissingInputs as e:
            print(f"tier: {e}", file=sys.stderr)
            return 1
        except TierError as e:
            print(f"tier: up failed: {e}", file=sys.stderr)
            print(f"tier: logs kept in {tier.log_dir} until teardown", file=sys.stderr)
            if os.environ.get("KMESHCTL_TIER_KEEP_ON_FAILURE"):
                done = True
            return 1
        _print_env(tier)
        print(f"# timings: {json.dumps(tier.timings)}")
        if args.hold:
            (tier.run_dir / HOLDER_PID).write_text(f"{os.getpid()}\n")
            print("# holding; Ctrl-C, SIGTERM or `down ID` tears it down", file=sys.stderr)
            while True:
                time.sleep(3600)
        done = True  # leave it running; `down` removes it
        tier.detach()
        return 0

    ids = Tier.existing_ids()
    if args.cmd == "env":
        tid = args.id or (ids[-1] if len(ids) == 1 else None)
        if not tid:
            print(f"tier: name one of {ids}" if ids else "tier: none running", file=sys.stderr)
            return 2
        _print_env(Tier(tid))
        return 0

    targets = ids if args.all else ([args.id] if args.id else (ids if len(ids) == 1 else []))
    if not targets:
        print(f"tier: name one of {ids} or use --all" if ids else "tier: nothing to remove", file=sys.stderr)
        return 0 if not ids else 2
    rc = 0
    for tid in targets:
        if _end_holder(Tier(tid)):
            print(f"tier {tid}: down (its `up --hold` process tore it down)")
            continue
        try:
            times = Tier(tid).down()
            print(f"tier {tid}: down ({json.dumps(times)})")
        except TierError as e:
            print(f"tier: {e}", file=sys.stderr)
            rc = 1
    return rc


if __name__ == "__main__":
    sys.exit(main())
