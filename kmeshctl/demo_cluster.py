"""The demo's cluster target: applies examples/fortio/ with the Kubernetes API
(server-side apply, validated against the cluster's own CRDs first), waits for the
pods, and execs the request loop in the netutils pod against the fortio ClusterIP.
Weight changes patch the VirtualService. With a kmeshctl waypoint (`kmeshctl waypoint
apply`) the demo then asks each waypoint pod's controller (its /status: the weights
Envoy's own config_dump shows) until every pod applies the new weights; with another
waypoint (ASM's, istiod's) it cannot observe that and waits a settle time instead.

Before it applies or sends anything it checks what the VirtualService's split needs (the
kmesh DaemonSet ready, the namespace enrolled, the Service's waypoint there and programmed)
and refuses with the command that fixes the first thing missing; a run that fails anyway
names the likeliest reason it can see (``fail_reason``)."""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import re
import shlex
import signal
import socket
import threading
import time
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterator, Optional, TypeVar

from kmeshctl import apply as applier
from kmeshctl.asciinum import duration_words, waited_words
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.kube import (ApiError, KubeClient, KubeTarget, connect_reachable, core_v1_api, stream_lost_before_answer,
                           stream_refusal)
from kmeshctl.params import (DEMO_RECORD_REFRESH_S, DEMO_WAYPOINT, EXEC_UPGRADE_ATTEMPTS, EXEC_UPGRADE_RETRY_S,
                             WAITING_NOTE_AFTER_S)
from kmeshctl.precheck import parse_server_version
from kmeshctl.rollout import pod_state, selector_string
from kmeshctl.sandboxes import Rerun, rerun_line
from kmeshctl.validate import supported_kubernetes_versions

if TYPE_CHECKING:
    from kmeshctl.demo import DemoReport, DemoSubject
    from kmeshctl.sandbox import manifests as m

POD_READY_TIMEOUT_S = 300.0
POLL_S = 1.0
SETTLE_S = 3.0  # istiod -> waypoint propagation of a VirtualService change (a waypoint we cannot ask)
WAYPOINT_APPLY_TIMEOUT_S = 30.0
WAYPOINT_POLL_S = 0.2
VS_API = "networking.istio.io/v1alpha3"
T = TypeVar("T")
log = logging.getLogger("kmeshctl.demo_cluster")
ERROR_CHANNEL = 3  # exec's status channel: a Status once the command ended
CLIENT_APP = "netutils"
SERVICE = "fortio"
NOTHING_CHANGED = "nothing was changed"
NOTHING_SENT = "no request was sent"
# On the demo's VirtualService (examples/fortio): with kmeshctl's field manager, it tells the
# demo's own (whose weights the demo sets, by force) from a user's of the same name.
DEMO_LABEL = ("app.kubernetes.io/part-of", "kmeshctl-demo")
# On the demo's own VirtualService while a run has changed its weights (WeightsRecord, JSON):
# the http routes the run found and the ones it set last, and the run (host, pid, when), so
# that the next run puts back what a killed one (SIGKILL) left, and only that.
ORIGINAL_WEIGHTS = "kmeshctl.io/demo-original-weights"
# A record another host's run rewrote this recently may be of a run still going (its pid
# cannot be checked from here): set_weights writes it, and a phase rewrites its time every
# params.DEMO_RECORD_REFRESH_S while it runs (_refresh_record).
OTHER_HOST_RUN_S = 600.0


# ----- the request loop's guard in the client pod ----------------------------------------
# Closing an exec stream does not reliably end the command in the pod (a real kubelet
# leaves it running), so the loop script runs after GUARD: it writes a per-run marker
# (LOOP_DIR/LOOP_MARKER_PREFIX<run>-<n>, holding the loop's pid) and ends the loop when
# the demo removes the marker (its stop: KILL_LOOP), when the exec's stdin closes, or when
# the demo's heartbeat (a line on stdin every HEARTBEAT_S) stops for LOOP_ORPHAN_S (a demo
# killed by SIGKILL, a lost connection). A run's start ends loops earlier runs left (SWEEP).
# The guard runs in the loop's own shell, so the loop's argv is the script's as before.
# Nothing of it is left for the pod's PID 1 to reap (`sleep infinity` in many client pods
# never does: each orphan stays a zombie): a SIGTERM (the stop's, the guard's) ends the
# loop's shell after its current command (a curl: at most demo.CURL_TIMEOUT_S), and that
# shell ends the guard's own processes and waits for them before it exits (the dog ends
# its `sleep` first); no process of it is killed while it has children.
LOOP_DIR = "/tmp"
LOOP_MARKER_PREFIX = "kmeshctl-demo-loop-"
HEARTBEAT_S = 1.0
LOOP_ORPHAN_S = 15
EXEC_TIMEOUT_S = 30  # a short command in the client pod (touch, the stop's kill; the sweep: plus loop_orphan_s)
# After `guard_marker=PATH; guard_limit=SECONDS`; `kill $$` in a subshell ends the loop's shell.
GUARD = r"""
: kmeshctl-demo-guard
echo "$$" > "$guard_marker"; echo 0 > "$guard_marker.beat"
exec 3<&0
( n=0; while IFS= read -r _; do n=$((n + 1)); echo "$n" > "$guard_marker.beat"; done; kill $$ ) <&3 >/dev/null 2>&1 &
guard_reader=$!
exec 3<&-
( trap 'kill "$guard_nap" 2>/dev/null; wait; exit 0' TERM; seen=0; quiet=0
  while kill -0 $$ 2>/dev/null; do
    sleep 1 & guard_nap=$!; wait "$guard_nap"; guard_nap=
    [ -e "$guard_marker" ] || { kill $$; break; }
    now=; read -r now < "$guard_marker.beat"
    if [ "$now" = "$seen" ]; then quiet=$((quiet + 1)); else quiet=0; seen=$now; fi
    [ "$quiet" -ge "$guard_limit" ] && { kill $$; break; }
  done
  kill "$guard_reader"; rm -f "$guard_marker" "$guard_marker.beat" ) >/dev/null 2>&1 &
guard_dog=$!
trap 'exit 143' TERM
trap 'trap "" TERM; rm -f "$guard_marker" "$guard_marker.beat"; kill "$guard_dog" "$guard_reader" 2>/dev/null; wait' EXIT
"""
# `sh -c KILL_LOOP sh MARKER`: the demo's stop ends its loop (the guard then cleans up).
KILL_LOOP = r"""
[ -f "$1" ] || exit 0
read -r pid < "$1"
rm -f "$1"
[ -n "$pid" ] && kill "$pid" 2>/dev/null
exit 0
"""
# `sh -c SWEEP sh DIR PREFIX URL PROC LOOP LIMIT NOTE`: ends the loops earlier runs left and
# prints how many: a marker's whose heartbeat stood still for LIMIT seconds (the guard's own
# limit: a run paused for less, Ctrl-Z, keeps its loop as its guard would; one that beats
# ends the wait; once NOTE seconds of it went by, SWEEP_WAITING is printed, a line of its
# own: the demo says it waits from that line, as only the script knows there is a loop to
# wait for) when PROC/PID/cmdline shows that pid still runs that marker's guard (else
# the pid is another process's by now: only the marker goes, at once), then any loop
# without a guard (a kmeshctl before it) whose argv is exactly `sh -c LOOP sh URL ...`
# (demo.REQUEST_LOOP sent to this demo's Service): a loop of another sandbox or Service on
# the same host stays.
SWEEP_WAITING = "waiting"  # SWEEP's line (`echo waiting`) once its wait has gone NOTE seconds
SWEEP = r"""
guards() { grep -qF -e "guard_marker=$1;" -e "guard_marker='$1';" "$2/$3/cmdline" 2>/dev/null; }
n=0; still=
for m in "$1/$2"*; do
  case $m in *.beat) continue ;; esac
  [ -f "$m" ] || continue
  pid=; read -r pid < "$m" 2>/dev/null
  case $pid in ''|*[!0-9]*) ;; *) guards "$m" "$4" "$pid" || { rm -f "$m" "$m.beat"; continue; } ;; esac
  b=; read -r b < "$m.beat" 2>/dev/null
  still="$still $m=$b"
done
quiet=0
while [ -n "$still" ] && [ "$quiet" -lt "$6" ]; do
  sleep 1; quiet=$((quiet + 1)); left=$still; still=
  for e in $left; do
    m=${e%=*}; b=${e##*=}
    [ -f "$m" ] || continue
    now=; read -r now < "$m.beat" 2>/dev/null
    [ "$now" = "$b" ] && still="$still $e"
  done
  [ -n "$still" ] && [ "$quiet" = "$7" ] && [ "$quiet" -lt "$6" ] && echo waiting
done
for e in $still; do
  m=${e%=*}
  pid=; read -r pid < "$m" 2>/dev/null
  rm -f "$m" "$m.beat"
  case $pid in ''|*[!0-9]*) continue ;; esac
  guards "$m" "$4" "$pid" || continue
  kill "$pid" 2>/dev/null && n=$((n + 1))
done
want=$(printf 'sh\001-c\001%s\001sh\001%s\001' "$5" "$3")
for p in "$4"/[0-9]*; do
  pid=${p##*/}
  [ "$pid" = "$$" ] && continue
  grep -qF "$3" "$p/cmdline" 2>/dev/null || continue
  c=$(tr '\000' '\001' < "$p/cmdline" 2>/dev/null) || continue
  case $c in "$want"*) ;; *) continue ;; esac
  ppid=; read -r _ _ _ ppid _ < "$p/stat" 2>/dev/null
  c=$(tr '\000' '\001' < "$4/$ppid/cmdline" 2>/dev/null)
  case $c in "$want"*) continue ;; esac
  kill "$pid" 2>/dev/null && n=$((n + 1))
done
echo "$n"
"""


def _whole_lines(pending: str, more: str) -> tuple[list[str], str]:
    """The lines ``pending`` + ``more`` completes, and what follows the last newline."""
    *lines, rest = (pending + more).split("\n")
    return lines, rest


def guarded(argv: list[str], marker: str, orphan_s: int) -> list[str]:
    """``argv`` with GUARD run first in its shell: `sh -c SCRIPT ...` keeps its arguments
    (GUARD goes before SCRIPT); any other command is run by a guarded shell."""
    head = f"guard_marker={shlex.quote(marker)}; guard_limit={int(orphan_s)}\n{GUARD}"
    if argv[:2] == ["sh", "-c"] and len(argv) >= 3:
        return ["sh", "-c", head + argv[2], *argv[3:]]
    return ["sh", "-c", head + '"$@"', "sh", *argv]  # not exec'd: its shell reaps the guard

def reachable_cluster(target: KubeTarget) -> tuple[Optional[KubeClient], Optional[KmeshctlError]]:
    """(client, None) when the cluster ``target`` names answers, else (None, the error
    saying why not: a UsageError when the kubeconfig or context given does not load)."""
    try:
        return connect_reachable(target), None
    except KmeshctlError as err:
        return None, err


# Why a command in the client pod ended by a signal (its exit code 128+N), by N, and the
# fix (DESCRIBE: the `kubectl describe pod` of that pod).
SIGNAL_CAUSES: dict[int, tuple[str, str]] = {
    int(signal.SIGKILL): ("killed by the container's memory limit (OOMKilled), or the pod deleted or restarted",
                     "see DESCRIBE, then run the demo again"),
    int(signal.SIGTERM): (f"ended by its guard once the demo's heartbeat stopped for {LOOP_ORPHAN_S}s (the demo "
                     "suspended, Ctrl-Z, or its connection stalled), or by the pod stopping",
                     "run the demo again without suspending it; if the pod was stopping, see DESCRIBE"),
}
SHOWN_EXEC_MESSAGE = 200  # characters of an exec's failure message (its argv, the scripts, cut out)


def _check_exit(status_json: str, what: str, where: str) -> None:
    """Raise when the exec'd command did not succeed (its Status on the error channel):
    ``what`` (`the request loop`) in pod ``where`` (NAMESPACE/POD), one line."""
    try:
        status = json.loads(status_json) if status_json else {}
    except ValueError:
        status = {"status": "Failure", "message": status_json}
    if isinstance(status, dict) and status.get("status", "Success") != "Success":
        raise _exit_error(status, what, where)


def _exit_code(status: dict) -> Optional[int]:
    causes = (status.get("details") or {}).get("causes") or []
    codes = [str(c.get("message")) for c in causes if isinstance(c, dict) and c.get("reason") == "ExitCode"]
    return int(codes[0]) if codes and codes[0].isdigit() else None


def _exit_error(status: dict, what: str, where: str) -> KmeshctlError:
    """The failure a Status says, by its exit code: a signal (128+N), sh or curl missing
    (126, 127), another code, or none (the exec itself failed); never the argv."""
    namespace, _, pod = where.partition("/")
    describe = f"`kubectl describe pod -n {namespace} {pod}`"
    code = _exit_code(status)
    if code is not None and 128 < code <= 128 + 64:
        number = code - 128
        cause, fix = SIGNAL_CAUSES.get(number, ("from outside the demo", "see DESCRIBE, then run the demo again"))
        return KmeshctlError(f"{what} in pod {where} was stopped (signal {number}, {_signal_name(number)}: {cause})",
                             fix=fix.replace("DESCRIBE", describe))
    if code in (126, 127):
        return KmeshctlError(f"{what} in pod {where} could not run a command it needs (exit code {code}: "
                             f"{'not executable' if code == 126 else 'not found'})",
                             fix="use a client pod that has sh and curl (the example's netutils image has both)")
    if code is not None:
        return KmeshctlError(f"{what} in pod {where} exited with code {code}", fix=f"see {describe}")
    message = " ".join(re.sub(r"\[.*\]", "[...]", str(status.get("message", "")), flags=re.S).split())
    return KmeshctlError(f"{what} in pod {where} failed: {message[:SHOWN_EXEC_MESSAGE]}",
                         fix="check that the pod has sh and curl (the example's netutils image has both)")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:  # a real-time signal: no name
        return f"SIGRTMIN+{number - signal.SIGRTMIN}" if number >= signal.SIGRTMIN else "no name"


class _Heartbeat:
    """The loop's heartbeat (a line on its stdin every ``every_s``) from a thread of its own,
    so that a demo that does not read for a while (its stderr blocked: `-v 2>&1 | less`)
    keeps its loop; the reader beats too between reads. ``lock``: one user of the stream
    at a time (the reader holds it while it reads; the thread skips a beat meanwhile)."""

    def __init__(self, response: object, every_s: float) -> None:
        self.lock = threading.Lock()
        self._response, self._every_s, self._last = response, every_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kmeshctl-demo-heartbeat", daemon=True)
        self._thread.start()

    def beat(self) -> None:
        """A beat when one is due; the caller holds ``lock``."""
        if time.monotonic() - self._last >= self._every_s:
            self._last = time.monotonic()
            _quietly(lambda: self._response.write_stdin("\n"))  # type: ignore[attr-defined]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(2 * self._every_s)  # a write stuck on a stalled stream ends with its close

    def _run(self) -> None:
        while not self._stop.wait(self._every_s / 2):
            if self.lock.acquire(blocking=False):
                try:
                    self.beat()
                finally:
                    self.lock.release()


def _quietly(action: Callable[[], object]) -> None:
    """Best effort: a heartbeat or a stop's kill that fails changes nothing (the guard's
    LOOP_ORPHAN_S ends the loop anyway)."""
    try:
        action()
    except Exception:  # noqa: BLE001 - transport errors of a closing stream, KmeshctlError
        pass


def in_namespace(documents: list[dict], namespace: Optional[str]) -> list[dict]:
    """The demo's objects moved to ``namespace`` (-n/--namespace of the cluster demo): the
    Namespace object is that one, every other object lives in it; None: as written."""
    if not namespace:
        return documents
    moved = [copy.deepcopy(d) for d in documents]
    for obj in moved:
        if obj["kind"] == "Namespace":
            obj["metadata"]["name"] = namespace
        else:
            obj["metadata"]["namespace"] = namespace
    return moved


def validation_version(client: KubeClient) -> str:
    """The cluster's MAJOR.MINOR, clamped to the schemas kubernetes-validate ships."""
    major, minor = parse_server_version(client.server_version())
    supported = supported_kubernetes_versions()
    found = f"{major}.{minor}"
    if found in supported:
        return found
    older = [v for v in supported if tuple(map(int, v.split("."))) <= (major, minor)]
    return older[-1] if older else supported[0]


def _applies(status: dict, route_suffix: str, wanted: dict[str, int]) -> bool:
    """Whether a waypoint controller's /status shows Envoy routing the Service's port(s)
    with `wanted` (subset -> weight); cluster names are outbound|PORT|SUBSET|HOST."""
    routes = [w for name, w in status.get("routes", {}).items() if name.endswith(route_suffix)]
    return bool(routes) and all({c.split("|")[2]: w for c, w in r.items()} == wanted for r in routes)


# ----- what the VirtualService's split needs ------------------------------------------


def bare_again(namespace: str, waypoint: str = "") -> str:
    """The cluster demo again on ``namespace`` (and --waypoint ``waypoint``), spelled bare
    (outside a run of the command: demo.cluster_again of sandboxes.rerun_line). An Again."""
    from kmeshctl import demo

    return demo.cluster_again(rerun_line, namespace, waypoint)


# How a fix spells the cluster demo again: (namespace, waypoint ('': none)) -> the line to
# paste; a ClusterTarget's keeps every flag typed (ClusterTarget.again).
Again = Callable[[str, str], str]


def split_needs_error(client: KubeClient, objs: list[dict], planned: bool, outcome: str,
                      again: Again = bare_again) -> Optional[KmeshctlError]:
    """The first thing the split lacks, as the one-line error naming its fix (None: all
    there): the kmesh DaemonSet ready, the demo namespace enrolled, the waypoint the fortio
    Service uses there and programmed. ``planned``: ``objs`` are about to be applied, so
    their labels count as set. ``outcome``: what the refusal left as it was. ``again``: how
    a fix spells the demo again."""
    return (_kmesh_error(client, outcome) or _namespace_error(client, objs, outcome)
            or _enrollment_error(client, objs, planned, outcome)
            or _waypoint_error(client, objs, planned, outcome, again))


def _namespace_error(client: KubeClient, objs: list[dict], outcome: str) -> Optional[KmeshctlError]:
    """The demo's namespace does not exist (-n demo): its waypoint cannot be there either,
    so it is created first, then the waypoint (bad input: exit 2); or it is being deleted
    (exit 1: no apply offered, none would work there)."""
    from kmeshctl.waypoint import deploy

    name = _demo_namespace(objs)["metadata"]["name"]
    readable, live = _readable(lambda: client.get("v1", "Namespace", name))
    if not readable:
        return None
    if live is not None:  # being deleted: neither the demo nor a waypoint can be created there
        try:
            deploy.check_namespace_open(client, name, f"the demo deploys into it; {outcome}")
        except KmeshctlError as terminating:
            return terminating
        return None
    return UsageError(f"namespace {name} does not exist (the demo deploys into it, beside the waypoint "
                      f"{name}/{deploy.DEFAULT_NAME} its Service uses; {outcome})",
                      fix=f"create it, then its waypoint: `kubectl create namespace {name}`, then "
                          f"`kmeshctl waypoint apply -n {name} --wait`")


def _readable(read: Callable[[], T]) -> tuple[bool, Optional[T]]:
    """(False, None) when the user may not read it (403): the check is skipped, the run tells."""
    try:
        return True, read()
    except ApiError as err:
        if err.status == 403:
            return False, None
        raise


def _kmesh_daemonset(client: KubeClient) -> tuple[bool, Optional[dict], Optional[dict]]:
    """(readable, the kmesh DaemonSet kmeshctl made, a DaemonSet kmesh in kmesh-system it
    did not make): where `status` looks (kmesh-system), else in the namespace another install
    put it (namespaces.agent_namespaces). A user's DaemonSet kmesh is no agent of kmeshctl's,
    as status, version and enable-ns decide (render.made_by_kmeshctl)."""
    from kmeshctl.namespaces import agent_namespaces
    from kmeshctl.params import DEFAULT_NAMESPACE
    from kmeshctl.render import DAEMONSET_NAME, made_by_kmeshctl

    readable, ds = _readable(lambda: client.get("apps/v1", "DaemonSet", DAEMONSET_NAME, DEFAULT_NAMESPACE))
    if ds is not None and made_by_kmeshctl(ds):
        return True, ds, None
    foreign = ds
    if readable:
        listed, elsewhere = _readable(lambda: agent_namespaces(client))
        if listed and elsewhere:
            readable, ds = _readable(lambda: client.get("apps/v1", "DaemonSet", DAEMONSET_NAME, elsewhere[0]))
            return readable, ds, foreign
    return readable, None, foreign


def _kmesh_error(client: KubeClient, outcome: str) -> Optional[KmeshctlError]:
    from kmeshctl.istiod import known_cluster_id
    from kmeshctl.params import DEFAULT_ISTIO_NAMESPACE, DEFAULT_NAMESPACE, install_command, install_hint
    from kmeshctl.render import DAEMONSET_NAME
    from kmeshctl.status import daemonset_problems

    readable, ds, foreign = _kmesh_daemonset(client)
    if not readable:
        return None
    if ds is None:
        cluster_id = known_cluster_id(client, DEFAULT_ISTIO_NAMESPACE)
    if ds is None and foreign is not None:
        elsewhere = install_command(cluster_id).replace(" install ", " install -n kmesh ", 1)
        which = "" if cluster_id else " (ID this cluster's id)"
        return KmeshctlError(f"kmesh is not installed (DaemonSet {DEFAULT_NAMESPACE}/{DAEMONSET_NAME} was not made "
                             f"by kmeshctl; {outcome})",
                             fix=f"install kmesh in another namespace: `{elsewhere}`{which}, or delete that "
                                 f"DaemonSet if it is not needed (`kubectl delete daemonset {DAEMONSET_NAME} -n "
                                 f"{DEFAULT_NAMESPACE}`) and {install_hint(cluster_id)}")
    if ds is None:
        return KmeshctlError(f"kmesh is not installed (no DaemonSet {DAEMONSET_NAME} in {DEFAULT_NAMESPACE}; "
                             f"{outcome})", fix=install_hint(cluster_id))
    namespace = ds["metadata"]["namespace"]
    problems = daemonset_problems(client, ds)
    if not problems:
        return None
    status = "kmeshctl status" + ("" if namespace == DEFAULT_NAMESPACE else f" -n {namespace}")
    return KmeshctlError(f"kmesh is not ready in {namespace} ({problems[0]}; {outcome})",
                         fix=f"see why with `{status}`, then re-run the demo")


def _labels(obj: Optional[dict]) -> dict[str, str]:
    return dict(((obj or {}).get("metadata") or {}).get("labels") or {})


def _live_and_planned(client: KubeClient, doc: dict, planned: bool) -> dict:
    """``doc``'s object as the cluster has it, with ``doc``'s labels when it is about to be applied."""
    meta = doc["metadata"]
    live = client.get(doc["apiVersion"], doc["kind"], meta["name"], meta.get("namespace")) or {}
    labels = {**_labels(live), **(_labels(doc) if planned else {})}
    return {**live, "kind": doc["kind"], "metadata": {**(live.get("metadata") or meta), "labels": labels}}


def _enrollment_error(client: KubeClient, objs: list[dict], planned: bool, outcome: str) -> Optional[KmeshctlError]:
    from kmeshctl.enrollment import MODE_LABEL, namespace_enabled
    from kmeshctl.namespaces import MODE_VALUE

    doc = _demo_namespace(objs)
    readable, namespace = _readable(lambda: _live_and_planned(client, doc, planned))
    if not readable or namespace_enabled(_labels(namespace)):
        return None
    name = doc["metadata"]["name"]
    return KmeshctlError(f"namespace {name} is not enrolled in kmesh (no label {MODE_LABEL}={MODE_VALUE}: its "
                         f"pods' requests bypass kmesh and the waypoint; {outcome})",
                         fix=f"run `kmeshctl enable-ns {name}`")


def _demo_namespace(objs: list[dict]) -> dict:
    """The Namespace object of the demo (-n moves it)."""
    service = _fortio_service(objs)
    found = next((o for o in objs if o["kind"] == "Namespace"), None)
    return found or {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": service["metadata"]["namespace"]}}


def _fortio_service(objs: list[dict]) -> dict:
    return next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == SERVICE)


def service_waypoint(client: KubeClient, objs: list[dict], planned: bool) -> Optional[tuple[str, str, str]]:
    """(namespace, name, where the label is) of the waypoint the fortio Service uses (its
    `istio.io/use-waypoint` label, else its namespace's: model.Snapshot.waypoint_of);
    None when it uses none."""
    from kmeshctl.waypoint import model

    # a Service in the cluster counts as it is (a user's own may lack the label the demo's
    # manifest has); one not there yet as the demo will create it
    doc = _fortio_service(objs)
    service = _live_and_planned(client, doc, planned and _applied_as_planned(client, doc))
    namespace = _live_and_planned(client, _demo_namespace(objs), planned)
    snap = model.snapshot_from_objects([namespace, service])
    found = snap.waypoint_of(snap.services[0]) if snap.services else None
    if found is None:
        return None
    on = (f"Service {snap.services[0].namespace}/{SERVICE}" if model.USE_WAYPOINT_LABEL in _labels(service)
          else f"namespace {namespace['metadata']['name']}")
    return found[0], found[1], on


def _applied_as_planned(client: KubeClient, doc: dict) -> bool:
    """The demo's apply will set ``doc``'s labels: no such Service yet, or the demo's own
    with a waypoint label (this run's --waypoint replaces the one an earlier run set; one
    whose label was removed is said to lack it)."""
    from kmeshctl.waypoint import model

    live = client.get("v1", "Service", doc["metadata"]["name"], doc["metadata"]["namespace"])
    return live is None or (made_by_demo({**live, "kind": "Service"}) and model.USE_WAYPOINT_LABEL in _labels(live))


def _live_service(client: KubeClient, objs: list[dict]) -> Optional[dict]:
    """The demo's fortio Service as the cluster has it (None: not there, or not readable)."""
    meta = _fortio_service(objs)["metadata"]
    readable, live = _readable(lambda: client.get("v1", "Service", meta["name"], meta["namespace"]))
    return live if readable else None


def _service_exists(client: KubeClient, doc: dict) -> bool:
    return client.get("v1", "Service", doc["metadata"]["name"], doc["metadata"]["namespace"]) is not None


def _waypoint_error(client: KubeClient, objs: list[dict], planned: bool, outcome: str,
                    again: Again = bare_again) -> Optional[KmeshctlError]:
    from kmeshctl.waypoint import deploy, model

    service_ns = _fortio_service(objs)["metadata"]["namespace"]
    readable, exists = _readable(lambda: _service_exists(client, _fortio_service(objs)))
    # what the cluster has: the Service, or none yet (the demo creates it)
    missing = readable and not exists
    who, uses = f"Service {service_ns}/{SERVICE}", "will use (the demo creates it)" if missing else "uses"
    readable, ref = _readable(lambda: service_waypoint(client, objs, planned))
    if not readable:
        return None
    if ref is None:
        return KmeshctlError(f"{who} uses no waypoint (no label {model.USE_WAYPOINT_LABEL} on it or its namespace: "
                             f"the VirtualService's split is done by one; {outcome})",
                             fix=_no_waypoint_fix(client, service_ns))
    namespace, name, on = ref
    apply = f"kmeshctl waypoint apply -n {namespace} --name {name}"
    deploy.require_gateway_api(client, f" (the waypoint {namespace}/{name} that {who} {uses} is one; {outcome})")
    readable, waypoint = _readable(lambda: deploy.waypoint_state(client, namespace, name))
    if not readable or waypoint is None:
        return None
    if waypoint.gateway_reason == "not found":
        live_label = "" if missing else _labels(_live_service(client, objs)).get(model.USE_WAYPOINT_LABEL, "")
        fix = _waypoint_fix(client, namespace, name, apply, again)
        meant = _existing_waypoint_fix(client, namespace, name, live_label, again)
        return KmeshctlError(_no_waypoint_words(who, missing, (namespace, name), on, outcome, live_label),
                             fix=f"{meant}; or make waypoint {namespace}/{name}: {fix}" if meant else fix)
    pods_needed = waypoint.managed or waypoint.pods
    if waypoint.addresses and (waypoint.ready_pods or not pods_needed):
        return None
    why = (f"Gateway {waypoint.gateway_reason}" if not waypoint.addresses
           else f"0/{len(waypoint.pods)} pods ready")
    return KmeshctlError(f"waypoint {namespace}/{name}, which {who} {uses}, is not ready ({why}; {outcome})",
                         fix=f"see `kmeshctl waypoint status -n {namespace} --name {name}`, or re-apply it: "
                             f"`{_reapply_line(client, namespace, name)} --wait`")


def _existing_waypoint_fix(client: KubeClient, namespace: str, name: str, live_label: str,
                           again: Again = bare_again) -> str:
    """Before making waypoint ``name`` (which does not exist): the waypoint of ``namespace``
    meant instead, the Service's own (``live_label``, one scaled to 0 made ready first),
    else the one closest to ``name`` (a typo of --waypoint): the demo again naming it, ''
    when the namespace has none."""
    import difflib

    from kmeshctl.waypoint import deploy

    try:
        found = {w.name: w for w in deploy.list_waypoints(client, namespace)}
    except (ApiError, KmeshctlError):  # not readable, or no Gateway API: making one is the fix
        return ""
    usable = _usable_waypoints(client, namespace)
    if live_label in found:
        rerun = f"`{again(namespace, live_label)}`"
        if live_label in usable:
            return f"the Service's own waypoint {namespace}/{live_label} is ready: {rerun}"
        return (f"the Service's own waypoint {namespace}/{live_label} exists but is not ready: run "
                f"`{_reapply_line(client, namespace, live_label)} --wait`, then {rerun}")
    if not found:
        return ""
    close = difflib.get_close_matches(name, list(found), n=1, cutoff=0.6)
    meant = close[0] if close else (deploy.DEFAULT_NAME if deploy.DEFAULT_NAME in usable
                                    else (usable[0] if usable else ""))
    if not meant:
        return ""
    names = ", ".join(found)
    return f"did you mean waypoint {meant} (waypoints in {namespace}: {names})? `{again(namespace, meant)}`"


def _reapply_line(client: KubeClient, namespace: str, name: str) -> str:
    """`kmeshctl waypoint apply -n NS --name NAME` with what the waypoint runs with (its
    --image, --replicas, --revision: a re-apply without them would put the defaults back),
    one replica when it is scaled to 0 (what keeps it from being ready)."""
    from kmeshctl.waypoint import deploy

    try:
        live = deploy.running_params(client, namespace, name)
    except KmeshctlError:  # not readable: the plain line
        live = None
    live = live or deploy.WaypointParams(namespace, name)
    return deploy.apply_line(live, "replicas", "1") if live.replicas == 0 else deploy.apply_line(live)


def _no_waypoint_fix(client: KubeClient, namespace: str) -> str:
    """The fix of a demo Service without a waypoint label: label it for a usable waypoint of
    its namespace (`waypoint` first), else make one under a name free there and label it so."""
    from kmeshctl.waypoint import deploy, model

    label = f"`kubectl label service {SERVICE} -n {namespace} {model.USE_WAYPOINT_LABEL}="
    usable = _usable_waypoints(client, namespace)
    if usable:
        name = deploy.DEFAULT_NAME if deploy.DEFAULT_NAME in usable else usable[0]
        return f"label the Service for waypoint {namespace}/{name}, which is ready there: {label}{name}`"
    name = _free_waypoint_name(client, namespace)
    taken = "" if name == deploy.DEFAULT_NAME else \
        f"{deploy.DEFAULT_NAME} is taken there by {_taken_by(client, namespace, deploy.DEFAULT_NAME)}: "
    return (f"{taken}run `kmeshctl waypoint apply -n {namespace} --name {name} --wait` and label the Service "
            f"{label}{name}`")


def _usable_waypoints(client: KubeClient, namespace: str) -> list[str]:
    """The names of the waypoints of ``namespace`` _waypoint_error would pass (programmed,
    and a pod ready when it has or needs any), whatever made them; [] when none or unreadable."""
    from kmeshctl.waypoint import deploy

    try:
        found = deploy.list_waypoints(client, namespace)
    except (ApiError, KmeshctlError):  # not readable, or no Gateway API: the fix makes one
        return []
    return [w.name for w in found if w.addresses and (w.ready_pods or not (w.managed or w.pods))]


def _free_waypoint_name(client: KubeClient, namespace: str) -> str:
    """`waypoint` unless an object of its names there is not kmeshctl's, else the first free
    of waypoint-demo, waypoint-demo-2, ..."""
    from kmeshctl.waypoint import deploy

    names = [deploy.DEFAULT_NAME] + [f"{DEMO_WAYPOINT}{'' if i == 1 else f'-{i}'}" for i in range(1, 100)]
    return next((n for n in names if not _name_taken(client, namespace, n)), names[-1])


def _waypoint_fix(client: KubeClient, namespace: str, name: str, apply: str, again: Again = bare_again) -> str:
    """`run `kmeshctl waypoint apply ... --wait``; when an object of the waypoint's names
    exists and is not one (a user's Service `waypoint`), a free name instead, and the demo
    again with --waypoint naming it (else the demo's Service would still use NAME)."""
    if not _name_taken(client, namespace, name):
        return f"run `{apply} --wait`"
    free = next(n for n in (f"{DEMO_WAYPOINT}{'' if i == 1 else f'-{i}'}" for i in range(1, 100))
                if not _name_taken(client, namespace, n))
    return (f"{name} is taken there by {_taken_by(client, namespace, name)}: run `kmeshctl waypoint apply -n "
            f"{namespace} --name {free} --wait`, then `{again(namespace, free)}`")


def _name_taken(client: KubeClient, namespace: str, name: str) -> bool:
    from kmeshctl.waypoint import deploy

    readable, found = _readable(lambda: deploy.objects_of(client, deploy.WaypointParams(namespace, name))[1])
    return bool(readable and found)


def _taken_by(client: KubeClient, namespace: str, name: str) -> str:
    from kmeshctl.waypoint import deploy

    return ", ".join(deploy.objects_of(client, deploy.WaypointParams(namespace, name))[1]) + " (not a waypoint)"


def found_waypoint(client: KubeClient, namespace: str) -> tuple[str, str, str]:
    """(its namespace, name, why) of the waypoint the demo's Service should use in
    ``namespace`` when the user gave none (--waypoint): the one the namespace's own
    istio.io/use-waypoint label names, whatever made it (istioctl's, in the namespace its
    istio.io/use-waypoint-namespace label names), else the only ready kmeshctl waypoint
    there; ('', '', '') when neither (the manifest's `waypoint` stands)."""
    from kmeshctl.waypoint import deploy, model

    readable, live = _readable(lambda: client.get("v1", "Namespace", namespace))
    labels = _labels(live) if readable else {}
    labelled = labels.get(model.USE_WAYPOINT_LABEL, "")
    if labelled:
        where = labels.get(model.USE_WAYPOINT_NAMESPACE_LABEL) or namespace
        return where, labelled, f"namespace {namespace} is labelled {model.USE_WAYPOINT_LABEL}={labelled}"
    try:
        ready = [w.name for w in deploy.list_waypoints(client, namespace)
                 if w.managed and w.addresses and w.ready_pods]
    except (ApiError, KmeshctlError):  # not readable, or no Gateway API: the checks say what lacks
        return "", "", ""
    if len(ready) == 1:
        return namespace, ready[0], f"the only ready kmeshctl waypoint in {namespace}"
    return "", "", ""


def waypoint_flag_target(waypoint: Optional[str], target: str, sandbox_flag: str) -> str:
    """The --target a `--waypoint NAME` means (cluster only: with auto, the cluster); a UsageError (exit 2) for an invalid name, --target local or a sandbox
    flag (``sandbox_flag``: --sandbox or --name as typed, '' when none)."""
    from kmeshctl.namespaces import check_names  # names.check_waypoint_name's rule (the CLI gives its lines first)

    if waypoint is None:
        return target
    check_names("--waypoint", [waypoint], kind="waypoint name", example=f"--waypoint {DEMO_WAYPOINT}")
    if sandbox_flag or target == "local":
        why = f"{sandbox_flag} names a local sandbox" if sandbox_flag else "--target local"
        raise UsageError(f"--waypoint names the cluster waypoint the demo's Service uses, and {why}: leave "
                         "--waypoint out (a local sandbox has its own waypoint) or run on a cluster "
                         "(--target cluster)")
    return "cluster"

def with_waypoint(objs: list[dict], name: str, namespace: str = "") -> list[dict]:
    """``objs`` with the demo's fortio Service labelled to use waypoint ``name`` (of
    ``namespace``, when not the Service's own: istio.io/use-waypoint-namespace)."""
    from kmeshctl.waypoint import model

    labelled = copy.deepcopy(objs)
    meta = _fortio_service(labelled)["metadata"]
    labels = {k: v for k, v in (meta.get("labels") or {}).items() if k != model.USE_WAYPOINT_NAMESPACE_LABEL}
    meta["labels"] = {**labels, model.USE_WAYPOINT_LABEL: name}
    if namespace and namespace != meta.get("namespace"):
        meta["labels"][model.USE_WAYPOINT_NAMESPACE_LABEL] = namespace
    return labelled


def _no_waypoint_words(who: str, missing: bool, waypoint: tuple[str, str], on: str, outcome: str,
                       live_label: str = "") -> str:
    """The waypoint the Service would use does not exist, said as the cluster has it: the
    Service and its label there (``live_label``: its value in the cluster when the demo's
    apply would change it), or no Service yet (the demo's manifest gives the label)."""
    from kmeshctl.waypoint import model

    namespace, name = waypoint
    if missing and on.startswith("Service"):
        return (f"no {who} in the cluster yet (the demo creates it, labelled {model.USE_WAYPOINT_LABEL}={name}) and "
                f"the waypoint {namespace}/{name} it would use does not exist ({outcome})")
    if live_label and live_label != name and on.startswith("Service"):
        return (f"{who} is labelled {model.USE_WAYPOINT_LABEL}={live_label}; the demo would relabel it "
                f"{model.USE_WAYPOINT_LABEL}={name}, and the waypoint {namespace}/{name} does not exist ({outcome})")
    return (f"{who} {'will use (the demo creates it)' if missing else 'uses'} waypoint {namespace}/{name} "
            f"(label {model.USE_WAYPOINT_LABEL}={name} on {on}), which does not exist ({outcome})")


@dataclass(frozen=True)
class HeldLabel:
    """The istio.io/use-waypoint label of the demo's own Service as the cluster has it,
    owned by field managers other than kmeshctl's (the demo never takes their fields)."""

    service: str  # namespace/name
    name: str  # the label's value: the waypoint's name
    where: str  # the waypoint's namespace (istio.io/use-waypoint-namespace, else the Service's)
    owners: tuple[str, ...]

    @property
    def text(self) -> str:
        from kmeshctl.waypoint import model

        return f"{model.USE_WAYPOINT_LABEL}={self.name}"

    @property
    def owners_text(self) -> str:
        return ", ".join(f'field manager "{m}"' for m in self.owners)


def label_managers(obj: dict, key: str) -> list[str]:
    """The field managers other than kmeshctl's that own label ``key`` of ``obj`` (its
    managedFields; status writes aside), sorted."""
    from kmeshctl.kube import FIELD_MANAGER

    found = set()
    for entry in (obj.get("metadata") or {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER or entry.get("subresource") == "status":
            continue
        labels = ((entry.get("fieldsV1") or {}).get("f:metadata") or {}).get("f:labels") or {}
        if f"f:{key}" in labels:
            found.add(entry.get("manager") or "?")
    return sorted(found)


def held_waypoint_label(client: KubeClient, objs: list[dict]) -> Optional[HeldLabel]:
    """The demo's own Service's (made_by_demo) istio.io/use-waypoint label when another
    field manager owns it; None when there is none, kmeshctl alone owns it, or it cannot
    be read (a user's Service is refused as ForeignObjects)."""
    from kmeshctl.waypoint import model

    doc = _fortio_service(objs)
    meta = doc["metadata"]
    readable, live = _readable(lambda: client.get("v1", "Service", meta["name"], meta["namespace"]))
    if not readable or live is None or not made_by_demo({**live, "kind": "Service"}):
        return None
    labels = _labels(live)
    value = labels.get(model.USE_WAYPOINT_LABEL)
    owners = label_managers(live, model.USE_WAYPOINT_LABEL)
    if not value or not owners:
        return None
    return HeldLabel(f"{meta['namespace']}/{meta['name']}", value,
                     labels.get(model.USE_WAYPOINT_NAMESPACE_LABEL) or meta["namespace"], tuple(owners))


def held_label_error(client: KubeClient, held: HeldLabel, wanted: str, again: Again = bare_again) -> KmeshctlError:
    """--waypoint WANTED names another waypoint than the Service's own label, which another
    field manager owns: nothing changed; the fix relabels it with kubectl (then the demo's
    apply sets the same value: no conflict), making WANTED first when it does not exist, or
    uses the waypoint the label names when that one is ready."""
    from kmeshctl.waypoint import deploy, model

    namespace = held.service.split("/")[0]
    label = (f"`kubectl label service {SERVICE} -n {namespace} {model.USE_WAYPOINT_LABEL}={wanted} --overwrite`")
    readable, state = _readable(lambda: deploy.waypoint_state(client, namespace, wanted))
    exists = readable and state is not None and state.gateway_reason != "not found"
    make = "" if exists else f"`kmeshctl waypoint apply -n {namespace} --name {wanted} --wait`, then "
    rerun = f"`{again(namespace, wanted)}`"
    fix = (f"make waypoint {namespace}/{wanted} and relabel the Service yourself: {make}{label}, then re-run the "
           f"demo: {rerun}") if make else f"relabel the Service yourself: {label}, then re-run the demo: {rerun}"
    if held.name in _usable_waypoints(client, held.where):
        fix += f"; or use the waypoint it names: `{again(namespace, held.name)}`"
    return KmeshctlError(f"Service {held.service} is labelled {held.text} by {held.owners_text}, whose fields the "
                         f"demo never takes: --waypoint {wanted} cannot relabel it ({NOTHING_CHANGED})", fix=fix)


def made_by_demo(obj: dict) -> bool:
    """One rule for every kind: the object carries the demo's label (the example applied by
    the demo or by kubectl), or an older demo applied it before the label existed
    (applied_only_by_demo). Not one with kmeshctl's manager beside another: a demo before
    the ownership check wrote into a user's objects (a VirtualService fortio too) with that
    manager, and they stay the user's."""
    meta = obj.get("metadata") or {}
    if (meta.get("labels") or {}).get(DEMO_LABEL[0]) == DEMO_LABEL[1]:
        return True
    return _older_demos(obj)


def _older_demos(obj: dict) -> bool:
    """applied_only_by_demo, with the demo's own weight changes counted as its: on its
    VirtualService an older demo merge-patched the weights with kmeshctl's field manager
    (operation Update; nothing else of kmeshctl's patches a VirtualService fortio)."""
    from kmeshctl.kube import FIELD_MANAGER

    meta = obj.get("metadata") or {}
    if obj.get("kind") == "VirtualService":
        entries = [{**e, "operation": "Apply"} if e.get("manager") == FIELD_MANAGER else e
                   for e in meta.get("managedFields") or []]
        obj = {**obj, "metadata": {**meta, "managedFields": entries}}
    return applied_only_by_demo(obj)


def applied_only_by_demo(obj: dict) -> bool:
    """An older demo's own object, made before the demo labelled its objects: every field
    of it that anyone set was set by a server-side apply of kmeshctl's field manager (the
    one the demo applies with), and it lacks the managed-by label that install's and
    waypoint apply's objects (same field manager) carry. Writes through the status
    subresource do not count: the API server keeps spec and labels out of them (the
    Deployment controller's status and revision annotation). Any other writer (kubectl
    create, apply, edit, scale, patch; a user's tool) and the object stays refused."""
    from kmeshctl.kube import FIELD_MANAGER
    from kmeshctl.render import made_by_kmeshctl

    meta = obj.get("metadata") or {}
    writes = [entry for entry in meta.get("managedFields") or [] if entry.get("subresource") != "status"]
    return bool(writes) and not made_by_kmeshctl(obj) and \
        all(entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply" for entry in writes)


def _existing(client: KubeClient, objs: list[dict]) -> Iterator[tuple[dict, dict]]:
    """(doc, the cluster's object) for each of ``objs`` that exists, the Namespace aside
    (check_enrollable decides on it); one the user may not read, or of a kind not served,
    is left to the apply to report."""
    for doc in objs:
        meta = doc["metadata"]
        if doc["kind"] == "Namespace" or not client.is_served(doc["apiVersion"], doc["kind"]):
            continue
        readable, live = _readable(lambda: client.get(doc["apiVersion"], doc["kind"], meta["name"],
                                                      meta.get("namespace")))
        if readable and live is not None:
            yield doc, {**live, "kind": doc["kind"]}


def foreign_objects(client: KubeClient, objs: list[dict]) -> list[dict]:
    """The objects of ``objs`` that exist in the cluster and the demo did not make
    (made_by_demo), in ``objs``' order."""
    return [doc for doc, live in _existing(client, objs) if not made_by_demo(live)]


def adopted_objects(client: KubeClient, objs: list[dict]) -> list[dict]:
    """The objects of ``objs`` an older demo made without the demo's label
    (applied_only_by_demo): the demo's own, which its apply now labels."""
    return [doc for doc, live in _existing(client, objs)
            if _labels(live).get(DEMO_LABEL[0]) != DEMO_LABEL[1] and _older_demos(live)]


def adopted_line(docs: list[dict]) -> str:
    """The progress line naming the objects adopted_objects found."""
    from kmeshctl.kube import FIELD_MANAGER, object_ref

    return (f"{', '.join(object_ref(d) for d in docs)}: an older kmeshctl demo's (applied only by field manager "
            f"{FIELD_MANAGER}, without the label {DEMO_LABEL[0]}={DEMO_LABEL[1]}), the demo's own: labelled by "
            "this apply")


def replicas_managers(live: dict) -> list[str]:
    """The field managers other than kmeshctl's that own a Deployment's spec.replicas
    (`kubectl` after `kubectl scale`, an autoscaler's), status writes aside, sorted."""
    from kmeshctl.kube import FIELD_MANAGER

    return sorted({entry.get("manager") or "?" for entry in (live.get("metadata") or {}).get("managedFields") or []
                   if entry.get("manager") != FIELD_MANAGER and entry.get("subresource") != "status"
                   and "f:replicas" in ((entry.get("fieldsV1") or {}).get("f:spec") or {})})


def scaled_elsewhere(client: KubeClient, objs: list[dict]) -> tuple[list[dict], list[str]]:
    """``objs`` with each existing Deployment's replicas as the cluster has them when
    another field manager owns them (a user's `kubectl scale`): the demo applies that
    same value, which takes nothing from that manager (no conflict) and measures the pods
    there are; and one progress line per such Deployment."""
    kept, said = copy.deepcopy(objs), []
    scaled = {(live["metadata"].get("namespace"), live["metadata"]["name"]): live
              for doc, live in _existing(client, objs)
              if doc["kind"] == "Deployment" and _replicas(live) != _replicas(doc) and replicas_managers(live)}
    for doc in kept:
        live = scaled.get((doc["metadata"].get("namespace"), doc["metadata"]["name"]))
        if doc["kind"] != "Deployment" or live is None:
            continue
        replicas = doc.setdefault("spec", {})["replicas"] = _replicas(live)
        managers = ", ".join(f'"{m}"' for m in replicas_managers(live))
        said.append(f"Deployment {doc['metadata'].get('namespace')}/{doc['metadata']['name']}: {replicas} "
                    f"replica{'' if replicas == 1 else 's'}, as field manager {managers} set them (kept: the demo "
                    "measures the pods there are)")
    return kept, said


def _replicas(deployment: dict) -> int:
    """spec.replicas, Kubernetes' default 1 when unset."""
    return int((deployment.get("spec") or {}).get("replicas", 1))


def spec_managers(obj: dict) -> list[str]:
    """The field managers other than kmeshctl that own part of the object's spec
    (`kubectl-patch` after `kubectl patch`), sorted."""
    from kmeshctl.kube import FIELD_MANAGER

    return sorted({entry.get("manager", "?") for entry in (obj.get("metadata") or {}).get("managedFields") or []
                   if entry.get("manager") != FIELD_MANAGER and "f:spec" in (entry.get("fieldsV1") or {})})


# ----- the routing in force -------------------------------------------------------------


def route_weights_text(vs: dict) -> str:
    """`v1=70, v2=30`: the measured http route's destinations (subset, else host) and weights."""
    http = (vs.get("spec") or {}).get("http") or [{}]
    routes = http[root_route_of(http) or 0].get("route") or []
    return ", ".join(f"{(r.get('destination') or {}).get('subset') or (r.get('destination') or {}).get('host')}="
                     f"{r.get('weight', 100)}" for r in routes)


@dataclass(frozen=True)
class WeightsRecord:
    """What a run that changed the weights wrote on the VirtualService (ORIGINAL_WEIGHTS):
    the http routes it found and the ones it set last (None: an older demo's record, which
    kept only the found), its host and pid, and when it set them (seconds since the epoch)."""

    found: list
    set: Optional[list]
    host: str = ""
    pid: int = 0
    at: float = 0.0

    def to_json(self) -> str:
        when = datetime.fromtimestamp(self.at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return json.dumps({"found": self.found, "set": self.set, "run": {"host": self.host, "pid": self.pid},
                           "at": when})


def _routes(value: object) -> Optional[list]:
    return value if isinstance(value, list) and value and all(isinstance(r, dict) for r in value) else None


def weights_record(vs: Optional[dict]) -> Optional[WeightsRecord]:
    """The record a run left on the VirtualService (ORIGINAL_WEIGHTS), None when none is
    (or it is not one)."""
    text = (((vs or {}).get("metadata") or {}).get("annotations") or {}).get(ORIGINAL_WEIGHTS)
    try:
        data = json.loads(text) if text else None
    except ValueError:
        return None
    if _routes(data) is not None:  # an older demo's: the routes found only
        return WeightsRecord(data, None)
    if not isinstance(data, dict) or _routes(data.get("found")) is None:
        return None
    run = data.get("run") if isinstance(data.get("run"), dict) else {}
    try:
        at = datetime.strptime(str(data.get("at")), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp()
    except ValueError:
        at = 0.0
    pid = run.get("pid")
    return WeightsRecord(data["found"], _routes(data.get("set")), str(run.get("host") or ""),
                         pid if isinstance(pid, int) else 0, at)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def running_elsewhere(record: WeightsRecord) -> str:
    """Who may still be running the demo that wrote ``record`` ('' when none can be): on
    this host, its pid while that process lives (this process's own is not another run); on
    another host, any run that rewrote it within OTHER_HOST_RUN_S."""
    if not record.pid:
        return ""
    if record.host == socket.gethostname():
        alive = record.pid != os.getpid() and _pid_alive(record.pid)
        return f"pid {record.pid}" if alive else ""
    ago = time.time() - record.at
    if ago >= OTHER_HOST_RUN_S or ahead_of_clock(record):
        return ""
    when = f"{ago:.0f}s ago" if ago >= 0 else f"stamped {-ago:.0f}s ahead of this host's clock"
    return f"pid {record.pid} on host {record.host}, {when}"


def ahead_of_clock(record: WeightsRecord) -> float:
    """How far past OTHER_HOST_RUN_S ahead of this host's clock ``record`` is stamped (0 when
    not that far): its writer's clock that wrong is no sign of a run going on now; a
    smaller lead is clock skew of a record just written."""
    ahead = record.at - time.time()
    return ahead if ahead > OTHER_HOST_RUN_S else 0.0


def stamp_note(record: WeightsRecord) -> str:
    """` (its record is stamped 720h ahead of this host's clock, more than 10m: not taken
    for a run going on)` for a record ahead_of_clock, '' else."""
    ahead = ahead_of_clock(record)
    return (f" (its record is stamped {duration_words(round(ahead))} ahead of this host's clock, more than "
            f"{duration_words(OTHER_HOST_RUN_S)}: not taken for a run going on)") if ahead else ""


def routing_in_force(client: KubeClient, objs: list[dict], live_vs: dict) -> list[dict]:
    """``objs`` with the routing the cluster has: the demo's own VirtualService's http routes
    (``live_vs``: its weights and subsets) and the DestinationRule's subsets when there is
    one, so that applying ``objs`` changes neither."""
    ref = (live_vs["metadata"].get("namespace"), live_vs["metadata"]["name"])
    kept = copy.deepcopy(objs)
    for obj in kept:
        meta = obj["metadata"]
        if obj["kind"] == "VirtualService" and (meta.get("namespace"), meta["name"]) == ref:
            obj["spec"]["http"] = copy.deepcopy((live_vs.get("spec") or {}).get("http") or [])
        elif obj["kind"] == "DestinationRule":
            live = client.get(obj["apiVersion"], "DestinationRule", meta["name"], meta.get("namespace"))
            if live is not None and (live.get("spec") or {}).get("subsets"):
                obj["spec"]["subsets"] = copy.deepcopy(live["spec"]["subsets"])
    return kept


def cluster_subject(client: KubeClient, objs: list[dict], live_vs: dict) -> "DemoSubject":
    """The DemoSubject of the demo's own VirtualService in the cluster (``objs``: the demo's
    objects with the routing in force): the subsets and weights of the route a plain GET /
    takes (demo.measured_route, as the local demo), and the `Server:` header and replicas of
    each subset's pods, from the cluster's Deployments (a fortio-v3 the user added too) else
    the manifests'; demo.demo_subject does the matching."""
    from kmeshctl import demo
    from kmeshctl.sandbox import manifests as m

    meta = live_vs["metadata"]
    where = f"VirtualService {meta.get('namespace')}/{meta['name']} in the cluster"
    undo = (f"fix its route, or delete it so that the demo applies its own: `kubectl delete virtualservice "
            f"{meta['name']} -n {meta.get('namespace')}`")
    vs = next(o for o in objs if o["kind"] == "VirtualService")
    service, rule = _fortio_service(objs), next((o for o in objs if o["kind"] == "DestinationRule"), None)
    live_service = client.get("v1", "Service", SERVICE, service["metadata"]["namespace"]) or service
    found = m.Manifests(
        services=[_as_service(live_service)], virtual_services=[_as_virtual_service(vs, where, undo)],
        destination_rules=[_as_destination_rule(rule)] if rule else [],
        deployments=_deployments(client, objs, service["metadata"]["namespace"]))
    try:
        route = demo.measured_route(found.virtual_services[0], "the cluster")
        _check_route(found, route, where, undo)
        return demo.demo_subject(found, SERVICE, where="the cluster")
    except UsageError as error:  # the cluster's objects, not this command's input
        raise KmeshctlError(f"{error}", fix=undo) from None


def _as_service(doc: dict) -> "m.Service":
    from kmeshctl.sandbox import manifests as m

    meta, spec = doc["metadata"], doc.get("spec") or {}
    ports = tuple(m.ServicePort(str(p.get("name", "")), int(p["port"]), p.get("targetPort", p["port"]),
                                str(p.get("protocol", "TCP"))) for p in spec.get("ports") or [] if "port" in p)
    return m.Service(meta["name"], meta.get("namespace") or "default", dict(meta.get("labels") or {}),
                     {str(k): str(v) for k, v in (spec.get("selector") or {}).items()}, ports)


def _as_virtual_service(doc: dict, where: str, undo: str) -> "m.VirtualService":
    """The VirtualService as the demo's model: every http route, its uri matches and
    destinations (a KmeshctlError when it has no http route)."""
    from kmeshctl.sandbox import manifests as m

    meta, spec = doc["metadata"], doc.get("spec") or {}
    if not spec.get("http"):
        raise KmeshctlError(f"{where} has no http route to measure", fix=undo)
    return m.VirtualService(meta["name"], meta.get("namespace") or "default", tuple(spec.get("hosts") or ()),
                            as_routes(spec["http"]))


def as_routes(http: list) -> tuple["m.HttpRoute", ...]:
    """Http routes (the VirtualService's spec.http) as the demo's model, for root_route."""
    from kmeshctl.sandbox import manifests as m

    routes = []
    for raw in http:
        dests = (raw or {}).get("route") or []
        routes.append(m.HttpRoute(tuple(_as_match(x) for x in (raw or {}).get("match") or []), tuple(
            m.Destination(str((r.get("destination") or {}).get("host", "")),
                          str((r.get("destination") or {}).get("subset", "")), None,
                          int(r.get("weight", 100 if len(dests) == 1 else 0))) for r in dests)))
    return tuple(routes)


def _as_match(raw: dict) -> "m.UriMatch":
    """One match of a route: its uri condition (none: any uri), `with headers, ...` added
    for any other condition, which a plain GET / does not meet (root_route then skips it)."""
    from kmeshctl.sandbox import manifests as m

    uri = (raw or {}).get("uri") or {"prefix": "/"}
    kind, value = next(iter(uri.items())) if isinstance(uri, dict) and uri else ("prefix", "/")
    others = sorted(set(raw or {}) - {"uri", "name", "ignoreUriCase"})
    return m.UriMatch(str(kind), f"{value} with {', '.join(others)}" if others else str(value))


def root_route_of(http: list) -> Optional[int]:
    """demo.root_route of a VirtualService's spec.http: the route a plain GET / takes."""
    from kmeshctl import demo
    from kmeshctl.sandbox import manifests as m

    return demo.root_route(m.VirtualService("", "", (), as_routes(http)))


def _check_route(found: "m.Manifests", route: int, where: str, undo: str) -> None:
    """The measured route's weights add up to 100 and name subsets the DestinationRule has."""
    destinations = found.virtual_services[0].http[route].destinations
    if not destinations:
        raise KmeshctlError(f"{where}: its route {route + 1}, which a GET / takes, has no destination", fix=undo)
    total = sum(d.weight for d in destinations)
    if total != 100:
        weights = "/".join(str(d.weight) for d in destinations)
        raise KmeshctlError(f"{where} routes with weights {weights}, which add up to {total}, not 100", fix=undo)
    _check_subsets(found, route, where, undo)


def _as_destination_rule(doc: dict) -> "m.DestinationRule":
    from kmeshctl.sandbox import manifests as m

    meta, spec = doc["metadata"], doc.get("spec") or {}
    subsets = tuple(m.Subset(str(s["name"]), {str(k): str(v) for k, v in (s.get("labels") or {}).items()})
                    for s in spec.get("subsets") or [])
    return m.DestinationRule(meta["name"], meta.get("namespace") or "default", str(spec.get("host", "")), subsets)


def _deployments(client: KubeClient, objs: list[dict], namespace: str) -> list["m.Deployment"]:
    """The manifests' Deployments, each replaced by the cluster's of the same name, and the
    cluster's other Deployments of the namespace (a fortio-v3 of a third subset)."""
    docs = {o["metadata"]["name"]: o for o in objs if o["kind"] == "Deployment"}
    docs.update({d["metadata"]["name"]: d for d in client.list("apps/v1", "Deployment", namespace)})
    return [_as_deployment(d, namespace) for d in docs.values()]


def _as_deployment(doc: dict, namespace: str) -> "m.Deployment":
    from kmeshctl.sandbox import manifests as m

    template = (doc.get("spec") or {}).get("template") or {}
    labels = {str(k): str(v) for k, v in ((template.get("metadata") or {}).get("labels") or {}).items()}
    containers = tuple(m.Container(str(c.get("name", "")), str(c.get("image", "")), (),
                                   tuple(str(a) for a in c.get("args") or []), ())
                       for c in (template.get("spec") or {}).get("containers") or [])
    replicas = (doc.get("spec") or {}).get("replicas")  # unset: Kubernetes' default, 1
    return m.Deployment(doc["metadata"]["name"], namespace, 1 if replicas is None else int(replicas), labels,
                        containers)


def _check_subsets(found: "m.Manifests", route: int, where: str, undo: str) -> None:
    """Every subset the route names is one the DestinationRule defines (demo_subject assumes it)."""
    vs = found.virtual_services[0]
    rule = found.destination_rules[0] if found.destination_rules else None
    defined = {s.name for s in rule.subsets} if rule else set()
    for dest in vs.http[route].destinations:
        if dest.subset not in defined:
            rule_name = f"DestinationRule {rule.namespace}/{rule.name}" if rule else "no DestinationRule"
            raise KmeshctlError(f"{where} routes to subset {dest.subset or '(none)'} of {dest.host}, which "
                                f"{rule_name} does not define", fix=undo)


# ----- the demo's namespace ---------------------------------------------------------------


def namespace_label_error(client: KubeClient, name: str) -> Optional[UsageError]:
    """The refusal (None: none) to apply the demo's Namespace object over namespace ``name``:
    one enable-ns refuses without --overwrite (namespaces.check_enrollable: another data
    plane's label, a system namespace), or one with Istio sidecar injection on (the demo's
    pods would get sidecars, which kmesh never enrolls)."""
    from kmeshctl import namespaces as ns_ops
    from kmeshctl.enrollment import MODE_LABEL

    readable, live = _readable(lambda: client.get("v1", "Namespace", name))
    if not readable:
        return None
    found = {**(live or {"metadata": {"name": name}}), "kind": "Namespace"}
    elsewhere = "run the demo in another namespace (-n)"
    try:
        ns_ops.check_enrollable(client, [found], overwrite=False)
    except ns_ops.EnrolledElsewhere as error:
        said = error.problem.removesuffix(f" ({NOTHING_CHANGED})")
        return UsageError(f"{said}: the demo's Namespace object would relabel it {MODE_LABEL}={ns_ops.MODE_VALUE} "
                          f"({NOTHING_CHANGED})",
                          fix=f"{elsewhere}, or move it to kmesh first: `kmeshctl enable-ns {name} --overwrite`")
    except ns_ops.NotToEnroll as error:
        return UsageError(error.problem, fix=elsewhere)
    if live is not None and ns_ops.has_sidecar_injection(found):
        labels = _labels(found)
        key = "istio-injection" if labels.get("istio-injection") == "enabled" else "istio.io/rev"
        return UsageError(f"namespace {name} has Istio sidecar injection on ({key}={labels[key]}): the demo's "
                          f"pods would get sidecars, and kmesh never enrolls a pod with one ({NOTHING_CHANGED})",
                          fix=f"{elsewhere}, or turn injection off: `kubectl label namespace {name} {key}-`")
    return None


class ForeignObjects(UsageError):
    """Objects the demo would apply exist and the demo did not make them (a user's own
    Deployment netutils, Service fortio, VirtualService or DestinationRule fortio): never
    changed; nothing was written."""

    def __init__(self, found: list[dict]) -> None:
        from kmeshctl.kube import object_ref

        self.found = found
        names = ", ".join(object_ref(o) for o in found)
        one = len(found) == 1
        namespaces = sorted({o["metadata"]["namespace"] for o in found})
        delete = " ".join(f"{o['kind'].lower()}/{o['metadata']['name']}" for o in found)
        where = f"-n {namespaces[0]} " if len(namespaces) == 1 else ""
        vs = next((o for o in found if o["kind"] == "VirtualService"), None)
        label = "" if vs is None else (
            f"; if {object_ref(vs)} is the demo's (an older demo's, changed since), label it instead: `kubectl label "
            f"virtualservice {vs['metadata']['name']} -n {vs['metadata']['namespace']} "
            f"{DEMO_LABEL[0]}={DEMO_LABEL[1]}`")
        super().__init__(f"{names} {'exists' if one else 'exist'} and {'was' if one else 'were'} not made by "
                         f"kmeshctl demo ({NOTHING_CHANGED})",
                         fix=f"run the demo in another namespace (-n) or delete {'it' if one else 'them'}: "
                             f"`kubectl delete {where}{delete}`{label}")




def _in_demo_words(error: "applier.DryRunRejected") -> "applier.DryRunRejected":
    """A dry run's conflict as the demo says it: never naming install's --force-conflicts
    (the demo has no such flag and never takes another manager's fields)."""
    from kmeshctl.kube import FORCE_WORDS, NEVER_FORCE_WORDS

    words = next((w for w in (FORCE_WORDS, NEVER_FORCE_WORDS) if w in error.problem), None)
    if words is None:
        return error
    outcome = error._message[len(error.problem) + 2:]
    return applier.DryRunRejected(error.problem.replace(words, "(the demo never takes another "
                                                        "manager's fields)"), error.fix, outcome or NOTHING_CHANGED,
                                  see=error.see)


class _ForcedVirtualService:
    """``client``, its server-side apply of the demo's own VirtualService forced (the demo's
    weights are the demo's to set, whoever patched them since); every other object is
    applied as usual, never taking another manager's fields."""

    def __init__(self, client: KubeClient, ref: tuple[str, str]) -> None:
        self._client, self._ref = client, ref

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def apply(self, obj: dict, dry_run: bool = False) -> dict:
        meta = obj["metadata"]
        if obj["kind"] != "VirtualService" or (meta.get("namespace"), meta["name"]) != self._ref:
            return self._client.apply(obj, dry_run)
        saved, self._client.force_conflicts = self._client.force_conflicts, True
        try:
            return self._client.apply(obj, dry_run)
        finally:
            self._client.force_conflicts = saved


class ClusterTarget:
    name = "cluster"
    waypoint = ""  # --waypoint: the waypoint the demo's Service uses ('': found_waypoint's, else the manifest's)

    def __init__(self, client: KubeClient, documents: list[dict], vs_ref: tuple[str, str],
                 settle_s: float = SETTLE_S, ready_timeout_s: float = POD_READY_TIMEOUT_S,
                 rerun: Rerun = rerun_line) -> None:
        self.client = client
        self._rerun = rerun  # how a fix spells the demo again (the CLI's keeps every flag typed)
        self.description = f"cluster {client.host}"
        self._documents = documents
        self._vs_namespace, self._vs_name = vs_ref
        self._settle_s = settle_s
        self._ready_timeout_s = ready_timeout_s
        self._original_http: Optional[list] = None
        self._set_http: Optional[list] = None  # the http routes this run last wrote (its weights in force)
        self._record_at, self._record_thread = 0.0, 0  # when this run last wrote its record, and on which thread
        self._vs_uid = ""  # the demo's VirtualService prepare checked: every write is to that one
        self._cluster_ip = ""
        self._client_pod = ""
        self._client_namespace = ""
        self._core = None
        self._run_id = uuid.uuid4().hex[:10]  # names this run's loop markers in the client pod
        self._loops = 0
        self.loop_dir, self.proc_dir, self.loop_orphan_s = LOOP_DIR, "/proc", LOOP_ORPHAN_S
        self._objs: list[dict] = []
        self._made: list[tuple[dict, str]] = []  # (object, "created" | "configured") this run applied
        self._enrolling = ""  # the namespace this run's apply enrolls (its Namespace object's label)
        self._changed_during = ""  # the VirtualService's weights someone else set during the run ('' when none)

    # ----- setup ----------------------------------------------------------------------

    def _namespaced(self) -> list[dict]:
        objs = [copy.deepcopy(d) for d in self._documents]
        for obj in objs:
            if obj["kind"] != "Namespace":
                obj["metadata"].setdefault("namespace", "default")
        return objs

    def _live_own_vs(self) -> Optional[dict]:
        """The demo's own VirtualService in the cluster (made_by_demo), else None."""
        live = self.client.get(VS_API, "VirtualService", self._vs_name, self._vs_namespace)
        return live if live is not None and made_by_demo(live) else None

    def _own_vs_in_force(self) -> tuple[Optional[dict], Optional[WeightsRecord], str]:
        """(the demo's own VirtualService with the routes this run will measure, the record
        a run left on it, what to do with that record): "restore" when the weights are still
        the ones that run set (its found routes are measured), "drop" when they changed since
        (the user's: measured as they are), "busy" when that run may still be going."""
        live = self._live_own_vs()
        record = weights_record(live)
        if live is None or record is None:
            return live, None, ""
        if running_elsewhere(record):
            return live, record, "busy"
        if record.set is None or (live.get("spec") or {}).get("http") != record.set:
            return live, record, "drop"
        return {**live, "spec": {**(live.get("spec") or {}), "http": record.found}}, record, "restore"

    def subject(self, default: "DemoSubject") -> "DemoSubject":
        """What the demo measures here: the demo's own VirtualService as the cluster has it
        (its subsets and weights in force, each subset's pods answering as the cluster's
        Deployments say); ``default``, the demo's manifests', when it is not there yet or
        is a user's (prepare refuses that one)."""
        live, _, _ = self._own_vs_in_force()
        if live is None:
            return default
        objs = routing_in_force(self.client, self._namespaced(), live)
        return cluster_subject(self.client, objs, live)

    def prepare(self, progress: Callable[[str], None]) -> None:
        objs = self._using_waypoint(self._namespaced(), progress)
        self._refuse_namespace_label(objs)
        foreign = foreign_objects(self.client, objs)
        if foreign:
            raise ForeignObjects(foreign)
        adopted = adopted_objects(self.client, objs)
        if adopted:
            progress(adopted_line(adopted))
        objs, scaled = scaled_elsewhere(self.client, objs)
        for line in scaled:
            progress(line)
        live, record, action = self._own_vs_in_force()
        if record is not None and action == "busy":
            raise self._busy_error(record)
        if live is not None:  # its weights and subsets stay as they are: the demo measures those
            objs = routing_in_force(self.client, objs, live)
        self._objs = objs
        writer = self._virtual_service_writer()
        progress("checking what the split needs: kmesh, the namespace's enrollment, the waypoint")
        self._refuse_when_lacking(planned=True, outcome=NOTHING_CHANGED)
        try:
            applier.preflight(writer, objs, validation_version(self.client), None)
        except applier.DryRunRejected as error:
            raise _in_demo_words(error) from error
        self._say_forced(live, progress)  # after the refusals: its promise is kept from here on
        if record is not None:
            self._settle_record(record, action, progress)
        self._enrolling = self._not_enrolled(objs)
        applier.apply_all(writer, objs, lambda r: self._applied(r, objs, progress))
        self._vs_uid = self._remembered_uid()
        self._hold()
        for obj in objs:
            if obj["kind"] == "Deployment":
                self._wait_pods(obj, progress)
        self._refuse_when_lacking(planned=False, outcome=NOTHING_SENT)
        self._cluster_ip = self._fortio_cluster_ip(objs)
        self._client_namespace, self._client_pod = self._pick_client(objs)
        progress(f"fortio ClusterIP {self._cluster_ip}; client pod {self._client_pod}")
        self._end_left_loops(progress)

    def _using_waypoint(self, objs: list[dict], progress: Callable[[str], None]) -> list[dict]:
        """``objs`` with the fortio Service labelled for the waypoint to use (--waypoint,
        else found_waypoint's), said; as they are when neither names one. A label of the
        demo's Service that another field manager set (`kubectl apply` of the example, a
        `kubectl label`) is never taken: without --waypoint the Service keeps the waypoint
        it names; a --waypoint naming another is refused (held_label_error)."""
        namespace = _fortio_service(objs)["metadata"]["namespace"]
        held = held_waypoint_label(self.client, objs)
        if held is not None and self.waypoint and self.waypoint != held.name:
            raise held_label_error(self.client, held, self.waypoint, self.again)
        if held is not None and not self.waypoint:
            found = (held.where, held.name, f"its own label {held.text}, set by {held.owners_text}")
        else:
            found = ((namespace, self.waypoint, "--waypoint") if self.waypoint
                     else found_waypoint(self.client, namespace))
        where, name, why = found
        if not name:
            return objs
        progress(f"Service {namespace}/{SERVICE} uses waypoint {where}/{name} ({why})")
        return with_waypoint(objs, name, where)

    def _not_enrolled(self, objs: list[dict]) -> str:
        """The demo's namespace when it is not in kmesh yet (applying its Namespace object
        enrolls it), else ''."""
        from kmeshctl.enrollment import namespace_enabled

        name = _demo_namespace(objs)["metadata"]["name"]
        readable, live = _readable(lambda: self.client.get("v1", "Namespace", name))
        return name if readable and not namespace_enabled(_labels(live)) else ""

    def again(self, namespace: str = "", waypoint: str = "", ran: bool = False) -> str:
        """This demo again on the cluster (an Again): every flag typed kept, -n ``namespace``
        (default: the VirtualService's) and --waypoint ``waypoint`` when given in place of
        the typed; ``ran``: pasted after this run (demo.with_options)."""
        from kmeshctl import demo

        return demo.cluster_again(self._rerun, namespace or self._vs_namespace, waypoint, ran)

    @property
    def _vs_text(self) -> str:
        return f"VirtualService {self._vs_namespace}/{self._vs_name}"

    def _busy_error(self, record: WeightsRecord, outcome: str = NOTHING_CHANGED) -> KmeshctlError:
        weights = route_weights_text({"spec": {"http": record.set or record.found}})
        did = f"it measures the weights {weights}" if record.set == record.found else f"it set the weights {weights}"
        return KmeshctlError(
            f"{self._vs_text}: another demo ({running_elsewhere(record)}) may be running: {did} ({outcome})",
            fix=f"wait for it; if no demo runs (it was killed), drop its record of the weights: `kubectl annotate "
                f"virtualservice {self._vs_name} -n {self._vs_namespace} {ORIGINAL_WEIGHTS}-`")

    def _settle_record(self, record: WeightsRecord, action: str, progress: Callable[[str], None]) -> None:
        """A run killed after changing the weights left them and its record: the weights it
        found go back when the VirtualService still has the ones it set; changed since (the
        user's), or an older demo's record (which cannot tell), they stay and only the record
        goes. A killed run's hold (_hold: it changed no weight) only goes. Each is said."""
        live = self.client.get(VS_API, "VirtualService", self._vs_name, self._vs_namespace)
        if live is None:
            return
        found = route_weights_text({"spec": {"http": record.found}})
        if record.set == record.found:
            progress(f"{self._vs_text}: a demo stopped before its end left its hold on it (it changed no weight; "
                     f"now {route_weights_text(live)}): dropping it{stamp_note(record)}")
            self._patch(live, {"metadata": {"annotations": {ORIGINAL_WEIGHTS: None}}})
            return
        if action == "restore" and (live.get("spec") or {}).get("http") == record.set:  # as read before
            progress(f"{self._vs_text}: a demo stopped before it could put its weights back left "
                     f"{route_weights_text(live)}; putting back {found}{stamp_note(record)}")
            self._restore(record.found, live)
            return
        now = route_weights_text(live)
        if record.set is None:  # an older demo's record: the weights it found only
            progress(f"{self._vs_text}: an older demo stopped before it could put back the weights it found "
                     f"({found}); its record cannot tell whether {now} are its weights: keeping them, dropping "
                     "its record")
        else:
            progress(f"{self._vs_text}: a demo stopped before it could put back the weights it found ({found}), "
                     f"and they were changed since (now {now}): keeping them, dropping its record{stamp_note(record)}")
        self._patch(live, {"metadata": {"annotations": {ORIGINAL_WEIGHTS: None}}})

    def _hold(self) -> None:
        """Hold the demo's VirtualService for this run: its record (WeightsRecord) written
        now, the routes in force as both found and set, so that another demo is refused
        (running_elsewhere) while this one runs, whatever weights it measures; set_weights
        rewrites it, finish drops it. Fenced (uid and resourceVersion): a demo that wrote
        its own since it was read is refused as busy."""
        for _ in range(2):  # a 409: read again; another demo's hold then refuses
            live, why = self._still_own_vs()
            if live is None:
                raise KmeshctlError(f"{why} ({NOTHING_SENT})", fix="re-run the demo")
            record = weights_record(live)
            if record is not None and running_elsewhere(record):
                raise self._busy_error(record, NOTHING_SENT)
            http = copy.deepcopy((live.get("spec") or {}).get("http") or [])
            held = WeightsRecord(http, http, socket.gethostname(), os.getpid(), time.time())
            try:
                self._patch(live, {"metadata": {"annotations": {ORIGINAL_WEIGHTS: held.to_json()}}})
            except ApiError as err:
                if err.status != 409:
                    raise
                continue
            self._set_http = http
            self._record_at, self._record_thread = held.at, threading.get_ident()  # see _refresh_record
            return
        raise KmeshctlError(f"{self._vs_text} kept changing while the demo started (409 Conflict on its hold; "
                            f"{NOTHING_SENT})", fix="run the demo again")

    def _restore(self, http: list, live: dict) -> None:
        self._patch(live, {"metadata": {"annotations": {ORIGINAL_WEIGHTS: None}}, "spec": {"http": http}})

    def _patch(self, live: dict, patch: dict) -> None:
        """Merge-patch the VirtualService ``live`` is, only as it was read (its uid and
        resourceVersion: the API server answers 409 Conflict to a replaced or changed one)."""
        meta = live["metadata"]
        fence = {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")}
        body = {**patch, "metadata": {**(patch.get("metadata") or {}), **{k: v for k, v in fence.items() if v}}}
        self.client.merge_patch(VS_API, "VirtualService", self._vs_name, body, self._vs_namespace)

    def _remembered_uid(self) -> str:
        live = self.client.get(VS_API, "VirtualService", self._vs_name, self._vs_namespace) or {}
        return str((live.get("metadata") or {}).get("uid") or "")

    def _still_own_vs(self) -> tuple[Optional[dict], str]:
        """(the VirtualService prepare checked, as it is now; else None and why not)."""
        live = self.client.get(VS_API, "VirtualService", self._vs_name, self._vs_namespace)
        if live is None:
            return None, f"{self._vs_text} is gone"
        uid = (live.get("metadata") or {}).get("uid")
        if (self._vs_uid and uid != self._vs_uid) or not made_by_demo(live):
            return None, (f"{self._vs_text} is no longer the one the demo checked (made again since, or not the "
                          "demo's any more)")
        return live, ""

    def _applied(self, result: "applier.ApplyResult", objs: list[dict], progress: Callable[[str], None]) -> None:
        from kmeshctl.enrollment import MODE_LABEL
        from kmeshctl.kube import object_ref

        obj = next((o for o in objs if object_ref(o) == result.ref), None)
        enrolls = (obj is not None and obj["kind"] == "Namespace" and result.action != "unchanged"
                   and obj["metadata"]["name"] == self._enrolling)  # its label, applied, enrolls it: said
        value = _labels(obj).get(MODE_LABEL) if enrolls else None
        said = f" (enrolled: {MODE_LABEL}={value})" if value else ""
        progress(f"{result.ref} {result.action}{said}")
        if obj is not None and result.action != "unchanged":
            self._made.append((obj, result.action))

    def made_text(self) -> str:
        """What this run left in the cluster and how to remove it ('' when nothing): `it
        enrolled namespace team-x and created Service team-x/fortio, ... (they stay; remove
        them: `kubectl delete -n team-x service/fortio ...`, `kmeshctl disable-ns team-x`)`."""
        from kmeshctl.kube import object_ref

        created = [o for o, action in self._made if action == "created" and o["kind"] != "Namespace"]
        enrolled = [o["metadata"]["name"] for o, _ in self._made
                    if o["kind"] == "Namespace" and o["metadata"]["name"] == self._enrolling]
        if not created and not enrolled:
            return ""
        said = ([f"enrolled namespace {enrolled[0]}"] if enrolled else []) + \
            ([f"created {', '.join(object_ref(o) for o in created)}"] if created else [])
        undo = []
        if created:
            namespace = created[0]["metadata"]["namespace"]
            undo.append(f"`kubectl delete -n {namespace} "
                        f"{' '.join(o['kind'].lower() + '/' + o['metadata']['name'] for o in created)}`")
        if enrolled:
            undo.append(f"`kmeshctl disable-ns {enrolled[0]}`")
        return f"it {' and '.join(said)}, which stay (remove them: {', then '.join(undo)})"

    def _virtual_service_writer(self) -> KubeClient:
        """The client to apply with: the demo's own VirtualService (made_by_demo) applied by
        force (one the demo did not make was refused before: ForeignObjects)."""
        if self._live_own_vs() is None:
            return self.client
        return _ForcedVirtualService(self.client, (self._vs_namespace, self._vs_name))  # type: ignore[return-value]

    def _say_forced(self, measured: Optional[dict], progress: Callable[[str], None]) -> None:
        """Say so when another manager set the spec of the demo's own VirtualService:
        ``measured`` is it with the routes this run measures (_own_vs_in_force)."""
        others = spec_managers(measured) if measured is not None else []
        if others:
            progress(f"{self._vs_text} is the demo's, its spec changed by {', '.join(others)}: measuring the "
                     f"weights in force, {route_weights_text(measured)}, and putting them back afterwards "
                     "(server-side apply force)")

    def _refuse_namespace_label(self, objs: list[dict]) -> None:
        error = namespace_label_error(self.client, _demo_namespace(objs)["metadata"]["name"])
        if error is not None:
            raise error

    def _refuse_when_lacking(self, planned: bool, outcome: str) -> None:
        error = split_needs_error(self.client, self._objs, planned, outcome, self.again)
        if error is not None:
            raise error

    def _wait_pods(self, deployment: dict, progress: Callable[[str], None]) -> None:
        meta, spec = deployment["metadata"], deployment["spec"]
        wanted = int(spec.get("replicas", 1))
        selector = selector_string(spec["selector"]["matchLabels"])
        deadline = time.monotonic() + self._ready_timeout_s
        started = time.monotonic()
        while True:
            pods = [pod_state(p) for p in self.client.list("v1", "Pod", meta["namespace"], selector)
                    if not p["metadata"].get("deletionTimestamp")]
            ready = [p for p in pods if p.ready]
            if len(ready) >= wanted:
                progress(f"Deployment {meta['name']}: {len(ready)}/{wanted} pods ready")
                return
            if time.monotonic() > deadline:
                reasons = "; ".join(f"{p.name}: {p.reason}" for p in pods if not p.ready) or "no pods"
                raise KmeshctlError(f"Deployment {meta['namespace']}/{meta['name']}: {len(ready)}/"
                                    f"{wanted} pods ready after {self._ready_timeout_s:.0f}s ({reasons}); "
                                    f"check `kubectl describe pod -n {meta['namespace']} -l {selector}`")
            progress(f"waiting for Deployment {meta['name']}: {len(ready)}/{wanted} ready "
                     f"({waited_words(time.monotonic() - started, self._ready_timeout_s)})")
            time.sleep(POLL_S)

    def _fortio_cluster_ip(self, objs: list[dict]) -> str:
        service = next(o for o in objs if o["kind"] == "Service" and o["metadata"]["name"] == "fortio")
        live = self.client.get("v1", "Service", "fortio", service["metadata"]["namespace"]) or {}
        cluster_ip = (live.get("spec") or {}).get("clusterIP")
        if not cluster_ip or cluster_ip == "None":
            raise KmeshctlError("Service fortio has no ClusterIP yet: re-run the demo in a moment")
        return cluster_ip

    def _pick_client(self, objs: list[dict]) -> tuple[str, str]:
        deployment = next(o for o in objs if o["kind"] == "Deployment"
                          and o["metadata"]["name"] == CLIENT_APP)
        namespace = deployment["metadata"]["namespace"]
        selector = selector_string(deployment["spec"]["selector"]["matchLabels"])
        pods = [pod_state(p) for p in self.client.list("v1", "Pod", namespace, selector)]
        ready = sorted(p.name for p in pods if p.ready)
        if not ready:
            raise KmeshctlError(f"no ready {CLIENT_APP} pod in namespace {namespace}")
        return namespace, ready[0]

    # ----- traffic ----------------------------------------------------------------------

    def service_url(self) -> str:
        return f"http://{self._cluster_ip}:80/"

    def _core_api(self):
        if self._core is None:
            self._core = core_v1_api(self.client.target)
        return self._core

    def _open_exec(self, argv: list[str], stdin: bool = False):
        from kubernetes.stream import stream

        where = f"{self._client_namespace}/{self._client_pod}"
        for attempt in range(1, EXEC_UPGRADE_ATTEMPTS + 1):
            try:
                return stream(self._core_api().connect_get_namespaced_pod_exec, self._client_pod,
                              self._client_namespace, command=argv, stdout=True, stderr=True,
                              stdin=stdin, tty=False, _preload_content=False)
            except Exception as err:  # noqa: BLE001 - ApiException (upgrade refused) and transport errors
                if attempt < EXEC_UPGRADE_ATTEMPTS and stream_lost_before_answer(err):
                    log.info("exec in pod %s: the connection was lost before the API server answered (%s); "
                             "opening it again", where, stream_refusal(err))
                    time.sleep(EXEC_UPGRADE_RETRY_S)
                    continue
                raise KmeshctlError(f"cannot exec in pod {where} ({stream_refusal(err)}): check that it runs "
                                    "and that you may create pods/exec") from err
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _exec(self, argv: list[str], timeout_s: float = EXEC_TIMEOUT_S,
              on_line: Callable[[str], None] = lambda _: None) -> str:
        """Run a short command in the client pod: its stdout (raises when it failed), each
        whole line of it given to ``on_line`` as it comes."""
        response = self._open_exec(argv)
        try:
            out, pending, deadline = "", "", time.monotonic() + timeout_s
            while response.is_open() and time.monotonic() < deadline:
                response.update(timeout=max(0.0, deadline - time.monotonic()))
                more = response.read_stdout() if response.peek_stdout() else ""
                out += more
                lines, pending = _whole_lines(pending, more)
                for line in lines:
                    on_line(line)
            _check_exit(response.read_channel(ERROR_CHANNEL), f"command {argv[0]}",
                        f"{self._client_namespace}/{self._client_pod}")
            return out
        finally:
            response.close()

    def _loop_marker(self) -> str:
        """A new marker path of this run's next loop: LOOP_DIR/LOOP_MARKER_PREFIX<run>-<n>."""
        self._loops += 1
        return f"{self.loop_dir}/{LOOP_MARKER_PREFIX}{self._run_id}-{self._loops}"

    def run_loop(self, argv: list[str]) -> Iterator[str]:
        """`kubectl exec` the loop in the client pod under GUARD, yielding its output
        line by line, with a heartbeat on its stdin (_Heartbeat, read or not) and this
        run's weights record kept young (_refresh_record); closed before its end (a stop),
        it ends the loop in the pod (KILL_LOOP)."""
        where = f"{self._client_namespace}/{self._client_pod}"
        marker = self._loop_marker()
        response = self._open_exec(guarded(argv, marker, self.loop_orphan_s), stdin=True)
        beats = _Heartbeat(response, HEARTBEAT_S)
        buffer, ended = "", False
        try:
            while response.is_open():
                with beats.lock:
                    beats.beat()
                    response.update(timeout=HEARTBEAT_S)
                    more = response.read_stdout() if response.peek_stdout() else ""
                lines, buffer = _whole_lines(buffer, more)
                yield from lines
                self._refresh_record()
            ended = True
            beats.stop()
            buffer += response.read_stdout() if response.peek_stdout() else ""
            yield from buffer.splitlines()
            _check_exit(response.read_channel(ERROR_CHANNEL), "the request loop", where)
        finally:
            beats.stop()
            response.close()
            if not ended:  # closing the stream may leave the loop running in the pod
                _quietly(lambda: self._exec(["sh", "-c", KILL_LOOP, "sh", marker]))

    def _refresh_record(self) -> None:
        """Rewrite the time on this run's weights record every DEMO_RECORD_REFRESH_S while a
        phase runs (another host's run takes a record younger than OTHER_HOST_RUN_S for a run
        still going), on the VirtualService as this run left it only (fenced: uid and
        resourceVersion); a failure is logged, the phase goes on. Only on the thread that set
        the weights: a change's background loop runs on another one while set_weights writes."""
        if self._set_http is None or threading.get_ident() != self._record_thread:
            return
        if time.time() - self._record_at < DEMO_RECORD_REFRESH_S:
            return
        self._record_at = time.time()  # tried: the next try one interval later
        try:
            live, _ = self._still_own_vs()
            record = self._own_record(live)
            if live is not None and record is not None:
                fresh = replace(record, at=time.time()).to_json()
                self._patch(live, {"metadata": {"annotations": {ORIGINAL_WEIGHTS: fresh}}})
        except KmeshctlError as err:
            log.info("%s: the time on the demo's weights record was not refreshed: %s", self._vs_text, err)

    def _own_record(self, live: Optional[dict]) -> Optional[WeightsRecord]:
        """The record on ``live`` when it is this run's and the weights this run set are in force."""
        record = weights_record(live)
        if live is None or record is None or (record.host, record.pid) != (socket.gethostname(), os.getpid()):
            return None
        in_force = (live.get("spec") or {}).get("http")
        return record if record.set == self._set_http and in_force == self._set_http else None

    def _end_left_loops(self, progress: Callable[[str], None]) -> None:
        """End the request loops earlier runs left in the client pod (SWEEP), saying so; a
        loop's heartbeat is watched for up to loop_orphan_s first (the guard's own limit)."""
        from kmeshctl.demo import REQUEST_LOOP

        argv = ["sh", "-c", SWEEP, "sh", self.loop_dir, LOOP_MARKER_PREFIX, self.service_url(), self.proc_dir,
                REQUEST_LOOP, str(int(self.loop_orphan_s)), str(max(1, math.ceil(WAITING_NOTE_AFTER_S)))]

        def said(line: str) -> None:
            if line == SWEEP_WAITING:
                progress(self._sweep_wait_words())

        try:
            out = self._exec(argv, EXEC_TIMEOUT_S + self.loop_orphan_s, said)
        except KmeshctlError:  # no exec here: the loop's own exec says why, in its words
            return
        count = int(out.split()[-1]) if out.split() and out.split()[-1].isdigit() else 0
        if count:
            progress(f"ended {count} request loop{'s' if count != 1 else ''} an earlier demo left running in pod "
                     f"{self._client_namespace}/{self._client_pod} (of a demo killed, or of an older "
                     "kmeshctl, which did not end its loop)")

    def _sweep_wait_words(self) -> str:
        """The line said when the sweep is still watching a loop's heartbeat (the wait is
        silent otherwise: up to loop_orphan_s)."""
        return (f"waiting up to {int(self.loop_orphan_s)}s for the heartbeat of a request loop an earlier demo "
                f"left in pod {self._client_namespace}/{self._client_pod} (a loop of a demo still running is kept)")

    def touch(self, path: str) -> None:
        self._exec(["touch", path])

    def set_weights(self, weights: list[int]) -> None:
        """Set ``weights`` on the route a plain GET / takes (the one measured), recorded
        in the same write, then wait until the waypoint routes with them."""
        current, why = self._still_own_vs()
        if current is None:
            raise KmeshctlError(f"{why}: its weights were not changed", fix="re-run the demo")
        http = copy.deepcopy(current["spec"]["http"])
        index = self._measured_index(current)
        if self._original_http is None:
            self._original_http = copy.deepcopy(http)
        for route, weight in zip(http[index].get("route") or [], weights):
            route["weight"] = weight
        # the record goes with the change, in one write: a run killed after it leaves both
        record = WeightsRecord(self._original_http, http, socket.gethostname(), os.getpid(), time.time())
        self._patch_weights(current, {"metadata": {"annotations": {ORIGINAL_WEIGHTS: record.to_json()}},
                                      "spec": {"http": http}})
        self._set_http = http
        self._record_at, self._record_thread = record.at, threading.get_ident()  # see _refresh_record
        waypoint = self._kmeshctl_waypoint(current)
        if waypoint is not None and self._waypoint_pods(waypoint):
            self._wait_waypoint_weights(waypoint, current, http[index].get("route") or [])
        else:
            time.sleep(self._settle_s)

    def _measured_index(self, vs: dict) -> int:
        """The route of ``vs`` a plain GET / takes (demo.measured_route, as subject found it)."""
        from kmeshctl import demo

        try:
            return demo.measured_route(_as_virtual_service(vs, self._vs_text, ""), "the cluster")
        except UsageError as error:  # the cluster's object, changed since: not this command's input
            raise KmeshctlError(f"{error}: its weights were not changed", fix="re-run the demo") from None

    def _patch_weights(self, live: dict, patch: dict) -> None:
        """_patch; a 409 Conflict (the VirtualService changed since it was read) as one line."""
        try:
            self._patch(live, patch)
        except ApiError as err:
            if err.status != 409:
                raise
            raise KmeshctlError(f"{self._vs_text} was changed by someone else while the demo ran (409 Conflict "
                                "on the weights' write): the demo's weights were not set", fix="run the demo again") \
                from None

    # ----- the waypoint applied the change --------------------------------------------

    def _kmeshctl_waypoint(self, vs: dict) -> Optional[tuple[str, str]]:
        """(namespace, name) of the waypoint serving the VirtualService's first host, None: none."""
        from kmeshctl.waypoint import model

        host_ns, host = model.resolve_host(vs["spec"]["hosts"][0], self._vs_namespace)
        service = self.client.get("v1", "Service", host, host_ns)
        namespace = self.client.get("v1", "Namespace", host_ns)
        if service is None or namespace is None:
            return None
        snap = model.snapshot_from_objects([{**namespace, "kind": "Namespace"}, {**service, "kind": "Service"}])
        return snap.waypoint_of(snap.services[0])

    def _waypoint_pods(self, waypoint: tuple[str, str]) -> list[str]:
        """The running pods of the kmeshctl waypoint ``waypoint`` (none: not kmeshctl's)."""
        from kmeshctl.waypoint import deploy

        pods = self.client.list("v1", "Pod", waypoint[0], f"{deploy.GATEWAY_LABEL}={waypoint[1]},"
                                f"{deploy.WAYPOINT_LABEL}={waypoint[1]}")
        return [p["metadata"]["name"] for p in pods
                if (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")]

    def _wait_waypoint_weights(self, waypoint: tuple[str, str], vs: dict, routes: list[dict]) -> None:
        """Until every running pod of the waypoint (listed again each pass: a replaced pod's
        successor counts) shows the weights in its controller's /status."""
        from kmeshctl.waypoint import deploy, model

        host_ns, host = model.resolve_host(vs["spec"]["hosts"][0], self._vs_namespace)
        suffix = f"|{model.service_hostname(host, host_ns)}"
        wanted = {r["destination"].get("subset", ""): int(r.get("weight", 100))
                  for r in routes if int(r.get("weight", 100)) > 0}
        if len(wanted) == 1:
            wanted = {subset: 100 for subset in wanted}
        deadline = time.monotonic() + WAYPOINT_APPLY_TIMEOUT_S
        done: set[str] = set()
        last_error = ""
        while True:
            pending = [p for p in self._waypoint_pods(waypoint) if p not in done]
            for pod in pending:
                try:
                    if _applies(deploy.pod_status(waypoint[0], pod, self.client.target), suffix, wanted):
                        done.add(pod)
                except KmeshctlError:  # a port-forward can fail once; the deadline decides
                    last_error = (f"the controller's /status at port {deploy.STATUS_PORT} of {waypoint[0]}/{pod} "
                                  "did not answer")
            if done and not [p for p in pending if p not in done]:
                return
            if time.monotonic() > deadline:
                raise self._waypoint_timeout(waypoint, [p for p in pending if p not in done], wanted, last_error)
            time.sleep(WAYPOINT_POLL_S)

    def _waypoint_timeout(self, waypoint: tuple[str, str], pending: list[str], wanted: dict[str, int],
                          last_error: str) -> KmeshctlError:
        from kmeshctl.waypoint import deploy

        namespace, name = waypoint
        which = (f"waypoint pod(s) {', '.join(f'{namespace}/{p}' for p in pending)}" if pending
                 else f"no running pod of waypoint {namespace}/{name}")
        return KmeshctlError(f"{which} did not apply weights {wanted} within {WAYPOINT_APPLY_TIMEOUT_S:.0f}s"
                             f"{last_error and ' (' + last_error + ')'}",
                             fix=f"see `kmeshctl waypoint status -n {namespace} --name {name}` and the "
                                 f"controller's log (`kubectl logs -n {namespace} -l {deploy.GATEWAY_LABEL}={name}`)")

    # ----- why a run failed ---------------------------------------------------------------

    def fail_reason(self, report: "DemoReport") -> str:
        """The likeliest reason the run failed that the cluster shows ('' when none): what
        the split needs gone since the start (kmesh, enrollment, the waypoint), the client
        pod not redirected by kmesh, or a split that looks like an even spread over the pods
        (the requests did not go through the waypoint)."""
        if self._changed_during:
            return (f"likeliest reason: {self._vs_text}'s routes were changed during the run by someone else "
                    f"(another demo, a user; now {self._changed_during}): its requests did not all go by the "
                    "weights they are judged against")
        if not self._objs:
            return ""
        try:
            error = split_needs_error(self.client, self._objs, planned=False, outcome="seen after the run",
                                      again=lambda namespace, waypoint: self.again(namespace, waypoint, ran=True))
            reason = str(error) if error else (self._unredirected_client() or self._even_spread(report))
        except KmeshctlError:  # the diagnosis is a hint: the verdict stands without it
            return ""
        return f"likeliest reason: {reason}" if reason else ""

    def _unredirected_client(self) -> str:
        from kmeshctl.enrollment import REDIRECTION_ANNOTATION, REDIRECTION_ENABLED

        pod = self.client.get("v1", "Pod", self._client_pod, self._client_namespace) if self._client_pod else None
        annotations = ((pod or {}).get("metadata") or {}).get("annotations") or {}
        if pod is None or annotations.get(REDIRECTION_ANNOTATION) == REDIRECTION_ENABLED:
            return ""
        return (f"pod {self._client_namespace}/{self._client_pod} is not marked {REDIRECTION_ANNOTATION}="
                f"{REDIRECTION_ENABLED} (kmesh does not redirect its requests, so no waypoint sees them); "
                f"wait for the agent to mark it: `kmeshctl enable-ns {self._client_namespace} --wait`")

    def _even_spread(self, report: "DemoReport") -> str:
        """A rejected phase whose counts an even spread over the pods explains."""
        from kmeshctl.demo import P_VALUE_FLOOR
        from kmeshctl.splitstats import split_test

        pods = report.subject.pod_counts if report.subject else {}
        for phase in report.phases:
            even = split_test(phase.traffic.counts, {server: pods.get(server, 1) for server in phase.expected})
            if phase.consistent or even is None or even.p_value < P_VALUE_FLOOR:
                continue
            found = service_waypoint(self.client, self._objs, planned=False)
            where = f" -n {found[0]} --name {found[1]}" if found else ""
            return ("the observed split fits an even spread over the fortio pods (what kube-proxy does): the "
                    f"requests seem not to pass the waypoint; see `kmeshctl waypoint status{where}`")
        return ""

    def finish(self, progress: Callable[[str], None]) -> None:
        """Put back the weights the run found, on the VirtualService prepare checked only,
        while it has the weights this run set (changed since by someone else, theirs stay
        and only the record goes); a failure is one line saying what stays and what the
        next run does."""
        if self._set_http is None:
            return
        if self._original_http is None:  # no weight changed: only this run's hold goes
            self._release()
            return
        found = route_weights_text({"spec": {"http": self._original_http}})
        live: Optional[dict] = None
        try:
            live, why = self._still_own_vs()
            if live is None:
                progress(f"{why}: the weights it had ({found}) are not put back")
                return
            if (live.get("spec") or {}).get("http") != self._set_http:
                self._changed_during = route_weights_text(live)
                progress(f"{self._vs_text}'s routes were changed by someone else during the demo (now "
                         f"{route_weights_text(live)}): keeping them, not putting back {found}")
                self._patch(live, {"metadata": {"annotations": {ORIGINAL_WEIGHTS: None}}})
                return
            progress("restoring the VirtualService's weights")
            self._restore(self._original_http, live)
        except KmeshctlError as err:
            left = f"weights left at {route_weights_text(live)}" if live is not None else "weights left as they are"
            raise KmeshctlError(f"could not put back the weights of {self._vs_text} ({err.problem}): {left}; the "
                                f"next demo, `{self.again(ran=True)}`, puts back {found}") from err

    def _release(self) -> None:
        """Drop this run's hold (_hold) from the VirtualService, when the record on it is
        still this run's; routes changed since are kept (and noted for fail_reason)."""
        try:
            live, _ = self._still_own_vs()
            if live is None:
                return
            if (live.get("spec") or {}).get("http") != self._set_http:
                self._changed_during = route_weights_text(live)
            record = weights_record(live)
            if record is not None and (record.host, record.pid) == (socket.gethostname(), os.getpid()):
                self._patch(live, {"metadata": {"annotations": {ORIGINAL_WEIGHTS: None}}})
        except KmeshctlError as err:
            raise KmeshctlError(f"could not drop the demo's hold on {self._vs_text} ({err.problem}): the next "
                                f"demo, `{self.again(ran=True)}`, drops it") from err

