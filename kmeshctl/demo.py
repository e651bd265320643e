"""`kmeshctl demo traffic-shift`: the Kmesh fortio demo, measured.

curl runs in the netutils pod against the fortio Service VIP on its port (80 in the
demo's manifests), once per request, as in the guide (`curl -v fortio:80 | grep Server:`). The `Server:` header
says which version answered. One phase per weight set: between phases the
VirtualService changes live while a background loop keeps sending requests, and every
request of the phase and of the change is counted; none may fail.

Where it runs is a `DemoTarget`: the local sandbox (`kmeshctl.sandbox.demo_target`) or
a real cluster (`kmeshctl.demo_cluster`). Both run the same request loop script.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Iterator, Optional, Protocol

from kmeshctl.asciinum import parse_int
from kmeshctl.errors import KmeshctlError, UsageError
from kmeshctl.kube import KubeTarget
from kmeshctl.params import bad_value, counted, given_text, shown, refuse_spaces
from kmeshctl.sandbox import manifests as m
from kmeshctl.sandboxes import Rerun, rerun_line
from kmeshctl.splitstats import TELLABLE_LIMIT, like_unweighted, min_requests, split_test
from kmeshctl.stopping import Stopped

P_VALUE_FLOOR = 0.001
CURL_TIMEOUT_S = 5
CHANGE_LEAD_S = 0.5  # background traffic flows this long before the change is made
MAX_BACKGROUND_S = 120
MAX_REQUESTS = TELLABLE_LIMIT  # -c at most

# Runs in the client pod: `sh -c SCRIPT sh URL COUNT STOP_FILE MAX_SECONDS`.
# COUNT 0 = until STOP_FILE exists or MAX_SECONDS passed. One line per request:
# "<index> <curl exit code> <HTTP status> <Server header or ->".
REQUEST_LOOP = r"""
url=$1; count=$2; stop=$3; deadline=$(( $(date +%s) + $4 )); i=0; cr=$(printf '\r')
while :; do
  if [ "$count" -gt 0 ]; then
    [ "$i" -ge "$count" ] && break
  else
    [ -e "$stop" ] && break
    [ "$(date +%s)" -ge "$deadline" ] && break
  fi
  i=$((i + 1))
  out=$(curl -sS -o /dev/null -D - --max-time TIMEOUT "$url" 2>/dev/null); rc=$?
  code=000; server=-
  # Parsed with shell builtins only: a request costs two forks (subshell + curl).
  while IFS= read -r line; do
    line=${line%"$cr"}
    case $line in
      HTTP/*) code=${line#* }; code=${code%% *} ;;
      [Ss][Ee][Rr][Vv][Ee][Rr]:*) server=${line#*:}; server=${server# } ;;
    esac
  done <<END_OF_HEADERS
$out
END_OF_HEADERS
  echo "$i $rc $code ${server:--}"
done
if [ -n "$stop" ]; then rm -f "$stop"; fi
""".replace("TIMEOUT", str(CURL_TIMEOUT_S))


@dataclass(frozen=True)
class RequestResult:
    index: int
    curl_exit: int
    status: int
    server: str  # "-" when absent

    @property
    def ok(self) -> bool:
        return self.curl_exit == 0 and 200 <= self.status < 300

    @property
    def reason(self) -> str:
        """Why a request failed, in words ("" when it did not)."""
        if self.ok:
            return ""
        if self.curl_exit:
            return f"curl exit {self.curl_exit} ({CURL_ERRORS.get(self.curl_exit, 'see man curl')})"
        return f"HTTP {self.status}"

    def to_json(self) -> dict:
        return {"index": self.index, "reason": self.reason, "curl_exit": self.curl_exit,
                "http_status": self.status}


CURL_ERRORS = {6: "could not resolve host", 7: "connection refused", 28: "timed out",
               52: "empty reply", 56: "connection reset"}


def parse_result_line(line: str) -> RequestResult | None:
    parts = line.split()
    if len(parts) != 4 or not all(p.lstrip("-").isdigit() for p in parts[:3]):
        return None
    return RequestResult(int(parts[0]), int(parts[1]), int(parts[2]), parts[3])


def loop_argv(url: str, count: int, stop_file: str = "", max_seconds: int = 3600) -> list[str]:
    return ["sh", "-c", REQUEST_LOOP, "sh", url, str(count), stop_file, str(max_seconds)]


class DemoTarget(Protocol):
    """Where the demo runs (local sandbox or a cluster). Optional methods: ``subject``
    (its own VirtualService: subject_of), ``ensure_weights`` (push phase 1's weights when
    they are the VirtualService's own: never assumed in force, since a demo killed mid-run
    leaves its own), ``lost`` and ``fail_reason``."""

    name: str  # "local" | "cluster"
    description: str

    def prepare(self, progress: Callable[[str], None]) -> None: ...
    def service_url(self) -> str: ...
    def run_loop(self, argv: list[str]) -> Iterator[str]: ...
    def touch(self, path: str) -> None: ...
    def set_weights(self, weights: list[int]) -> None: ...
    def finish(self, progress: Callable[[str], None]) -> None: ...


class PartlyFinished(KmeshctlError):
    """A target's finish did what it could and the rest follows from a failure the run
    meets anyway (the local waypoint's Envoy not answering: the VirtualService's own weights
    are back in the sandbox's record, its Envoy did not take them): one progress line when
    the run already ends with its own error, the run's error when it does not."""


def lost_reason(target: DemoTarget) -> str:
    """Why ``target`` went away mid-run ('' when it did not, or cannot tell): a local
    sandbox removed by `sandbox down`."""
    lost = getattr(target, "lost", None)
    return lost() if callable(lost) else ""


# ---------------------------------------------------------------- the demo's subject


@dataclass(frozen=True)
class Version:
    subset: str  # "v1"
    server: str  # the Server header its pods send, "1"
    pods: int = 1  # its pods (the replicas of its Deployments): routing without weights spreads over pods
    deployments: tuple[str, ...] = field(default=(), compare=False)  # `namespace/name` of each


@dataclass(frozen=True)
class DemoSubject:
    """The fortio VirtualService and what each subset's pods answer, from the manifests."""

    virtual_service: m.VirtualService
    versions: tuple[Version, ...]
    default_weights: tuple[int, ...]
    route: int = 0  # the http route measured (its index): the one a plain GET / takes
    port: int = 80  # the fortio Service port the requests go to

    @property
    def pod_counts(self) -> dict[str, int]:
        """Server header -> pods: what routing that ignores the weights spreads over."""
        return {v.server: v.pods for v in self.versions}


def demo_subject(manifests: m.Manifests, service_name: str = "fortio",
                 where: str = "the demo manifests", namespace: str | None = None) -> DemoSubject:
    """The VirtualService routing ``service_name`` in ``manifests`` (``where``: their name
    in messages, e.g. `sandbox kmesh`; ``namespace``: only one of that namespace): the
    subsets, in order, and weights of the route a plain GET / takes (root_route), and the
    Service port requests go to (request_port)."""
    vs = next((v for v in manifests.virtual_services if any(
        h.split(".")[0] == service_name for h in v.hosts) and namespace in (None, v.namespace)), None)
    if vs is None:
        inside = f" in namespace {namespace}" if namespace is not None else ""
        raise UsageError(f"no VirtualService for {service_name}{inside} in {where}")
    service = manifests.service_for_host(vs.hosts[0], vs.namespace)
    rule = manifests.destination_rule_for(service) if service else None
    if service is None or rule is None:
        raise UsageError(f"the demo needs the Service and DestinationRule of {service_name} ({where} lacks them)")
    route = measured_route(vs, where)
    versions = []
    for dest in vs.http[route].destinations:
        subset = next(s for s in rule.subsets if s.name == dest.subset)
        deployments = _subset_deployments(manifests, service, subset)
        if not deployments:
            raise UsageError(f"DestinationRule {rule.namespace}/{rule.name} subset {subset.name} "
                             f"({_labels_text(subset.labels)}) selects no pod of Service {service.namespace}/"
                             f"{service.name} in {where}: the demo cannot measure it (its requests get HTTP 503); "
                             "fix the subset's labels or the pods'")
        versions.append(Version(dest.subset, _server_header_of(deployments, subset),
                                sum(d.replicas for d in deployments),
                                tuple(f"{d.namespace}/{d.name}" for d in deployments)))
    _check_servers_differ(versions, service_name)
    return DemoSubject(vs, tuple(versions), tuple(d.weight for d in vs.http[route].destinations), route,
                       request_port(service, vs.http[route]))


def root_route(vs: m.VirtualService) -> int | None:
    """The index of the http route a plain GET / (no special header) takes: the first
    without a match, or with a uri match / accepts (None: none does; Envoy answers 404)."""
    def takes_root(match: m.UriMatch) -> bool:
        return match.value in ("", "/") if match.kind in ("prefix", "exact") else False
    return next((i for i, r in enumerate(vs.http) if not r.matches or any(takes_root(x) for x in r.matches)), None)


def measured_route(vs: m.VirtualService, where: str) -> int:
    """root_route of ``vs``, the route the demo measures and sets (the local and the cluster
    demo alike); a UsageError listing the routes' matches when none takes a plain GET /."""
    route = root_route(vs)
    if route is None:
        raise UsageError(f"no http route of VirtualService {vs.namespace}/{vs.name} in {where} takes a request "
                         f"to / ({_matches_text(vs)}), which is what the demo sends; add a route without `match` "
                         "(or with `uri: {prefix: /}`) last")
    return route


def _matches_text(vs: m.VirtualService) -> str:
    """`route 1 matches uri prefix /canary`, each route's matches."""
    return "; ".join(f"route {i} matches " + " or ".join(f"uri {x.kind} {x.value}" for x in r.matches)
                     for i, r in enumerate(vs.http, start=1))


def request_port(service: m.Service, route: m.HttpRoute) -> int:
    """The Service port the demo sends to: the one the route's destinations name, else the
    Service's only port, else 80 when it has one, else its first."""
    ports = [p.port for p in service.ports]
    named = [d.port for d in route.destinations if d.port in ports]
    if named:
        return named[0]
    return ports[0] if len(ports) == 1 or 80 not in ports else 80


def _subset_deployments(manifests: m.Manifests, service: m.Service, subset: m.Subset) -> list[m.Deployment]:
    """The Deployments whose pods the Service and the subset both select."""
    wanted = {**service.selector, **subset.labels}
    return [d for d in manifests.deployments if d.namespace == service.namespace
            and all(d.pod_labels.get(k) == v for k, v in wanted.items())]


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "no labels"


def _check_servers_differ(versions: list[Version], service_name: str) -> None:
    """Each subset answers with its own `Server:` header: responses are keyed to subsets
    by it, so two subsets sharing one would each be counted every answer of both."""
    seen: dict[str, Version] = {}
    for version in versions:
        first = seen.setdefault(version.server, version)
        if first is not version and first.subset == version.subset:
            raise UsageError(f"the route of {service_name} names subset {version.subset} twice: the demo cannot "
                             "tell its two destinations' responses apart; name each subset once")
        if first is not version:
            raise UsageError(f"subsets {first.subset} and {version.subset} of {service_name} send the same Server "
                             f"header ({shown(version.server)}): the demo cannot tell their responses apart; give "
                             "each version its own `-echo-server-default-params header=server:N`")


def _server_header_of(deployments: list[m.Deployment], subset: m.Subset) -> str:
    """The `header=server:N` a subset's fortio pods were started with."""
    for deployment in deployments:
        for container in deployment.containers:
            for arg in container.args:
                for param in arg.split("&"):
                    if param.lower().startswith("header=server:"):
                        return param.split(":", 1)[1]
    raise UsageError(f"no pod of subset {subset.name} sets `-echo-server-default-params "
                     "header=server:N`; the demo cannot tell the versions apart")


def check_pods(subject: DemoSubject, weight_sets: list[list[int]], where: str,
               weights_line: Optional[Callable[[str], str]] = None, remake: str = "",
               scale_up: Optional[Callable[[str], str]] = None, outcome: str = "") -> None:
    """KmeshctlError (exit 1) before any request when a subset without a pod (replicas 0)
    gets a weight > 0 in a weight set: its requests would fail (HTTP 503). Weight 0 in
    every set, it gets none (its own weight too: the switch away from them sends no
    request, see run_traffic_shift). The fix: ``weights_line`` of the sets with its weight
    given to a subset with pods (the demo again with that --weights), and either
    ``scale_up`` (a cluster: the line that scales Deployment `namespace/name` up) or
    ``remake`` (a sandbox: the line that makes it again, once its manifests give it
    replicas). ``outcome``: what the refusal left (`nothing was changed`), said after 503."""
    vs = subject.virtual_service
    for version in (v for i, v in enumerate(subject.versions) if not v.pods and any(w[i] for w in weight_sets)):
        fixes = []
        fed = without_podless(subject, weight_sets)
        if fed and weights_line is not None:
            fixes.append(f"send it nothing, `{weights_line(','.join('/'.join(map(str, w)) for w in fed))}`")
        elif fed:
            fixes.append("give it weight 0 in every --weights set")
        if scale_up is not None:
            fixes += [f"scale it up, `{scale_up(deployment)}`" for deployment in version.deployments]
        else:
            replicas = "make the sandbox again with replicas >= 1 for it"
            fixes.append(f"{replicas} (in its manifests), `{remake}`" if remake else replicas)
        left = f", {outcome}" if outcome else ""
        raise KmeshctlError(f"subset {version.subset} of VirtualService {vs.namespace}/{vs.name} in {where} has no "
                            f"pod (replicas 0 in Deployment {', '.join(version.deployments)}): its requests would "
                            f"fail (HTTP 503{left}); {', or '.join(fixes)}")


def without_podless(subject: DemoSubject, weight_sets: list[list[int]]) -> list[list[int]]:
    """``weight_sets`` with the weight of each subset without a pod given to the first one
    with pods, repeats dropped ([] when no subset has a pod)."""
    fed = [i for i, v in enumerate(subject.versions) if v.pods]
    if not fed:
        return []
    moved: list[list[int]] = []
    for weights in weight_sets:
        new = [w if subject.versions[i].pods else 0 for i, w in enumerate(weights)]
        new[fed[0]] += sum(weights) - sum(new)
        if new not in moved:
            moved.append(new)
    return moved


def _podless_weighted(subject: DemoSubject, weights: list[int]) -> bool:
    """Whether ``weights`` send requests to a subset without a pod."""
    return any(w and not v.pods for v, w in zip(subject.versions, weights))


def fortio_demo() -> tuple[list[dict], DemoSubject]:
    """The demo's manifests (examples/fortio/) as documents, and what the demo measures."""
    manifests = m.load(m.default_files())
    return manifests.documents, demo_subject(manifests)


def subject_of(target: "DemoTarget", default: DemoSubject) -> DemoSubject:
    """What the demo measures on ``target``: its own VirtualService (a local sandbox's, the
    demo's own in a cluster, whatever its weights and subsets), else ``default``, the demo's
    manifests' (a cluster without it yet, where prepare applies them; a sandbox the demo
    brings up from them)."""
    own = getattr(target, "subject", None)
    return own(default) if callable(own) else default


def with_weights(subject: DemoSubject, weights: Iterable[int]) -> DemoSubject:
    return replace(subject, default_weights=tuple(weights))


MAX_WEIGHT_SETS = 20  # phases of one run: each sends -c requests and waits for the new weights


def parse_weight_sets(text: str | None, subject: DemoSubject, check_count: bool = True) -> list[list[int]]:
    """`90/10,50/50` -> [[90, 10], [50, 50]]; default: the VirtualService's own weights.
    ``check_count`` False: only what holds whatever the VirtualService's subsets (whole
    numbers >= 0 adding up to 100), before the target, and so its subsets, is known: its
    examples then say which subsets they are for, the target's may be others."""
    if text is None:
        return [list(subject.default_weights)]
    names = "/".join(v.subset for v in subject.versions)
    example, examples = weight_examples(subject)
    if not check_count:
        example, examples = (f"{e} (for {names}; one weight per subset)" for e in (example, examples))
    if not text.strip():
        raise bad_value("--weights", text, "empty", f"weight sets like {examples} (or leave the flag out for the "
                        "VirtualService's own)")
    # a space parts sets (`90/10 50/50`) or, in one set without a `/` (`90 10`), weights
    refuse_spaces("--weights", text, parts="," if "/" in text else "/")
    parts = text.split(",")
    if len(parts) > MAX_WEIGHT_SETS:
        raise bad_value("--weights", text, f"{len(parts)} weight sets",
                        f"at most {MAX_WEIGHT_SETS} (one phase each), e.g. {examples}")
    if check_count or not all(p.strip() == "100" for p in parts):  # `90,10`: regrouped by the subsets' count
        _check_sets_not_split(text, parts, len(subject.versions), example)
    sets = []
    for number, part in enumerate(parts, start=1):
        shown_example = examples if len(parts) > 1 else example
        weights = _weight_set(text, part, number if len(parts) > 1 else 0, subject, shown_example, names,
                              check_count)
        sets.append(weights)
    _check_same_count(text, sets, examples)
    return sets


def _check_same_count(text: str, sets: list[list[int]], examples: str) -> None:
    """Every set has one weight per subset of the one route: `90/10,100` fits no route."""
    counts = sorted({len(weights) for weights in sets})
    if len(counts) > 1:
        sizes = " and ".join(map(str, counts))
        raise bad_value("--weights", text, f"sets of {sizes} weights",
                        f"the same number of weights in every set (one per subset), e.g. {examples}")


def telling_weights(unweighted: dict[str, float]) -> str:
    """Weights far from ``unweighted`` (subset -> share routing without weights gives): the
    most to the subset with the fewest pods, 10 to each other with pods, `10/90`,
    `80/10/10` ('' with fewer than two subsets with pods: no weights change anything)."""
    live = [k for k, share in unweighted.items() if share > 0]
    if len(live) < 2:
        return ""
    lightest = min(live, key=lambda k: unweighted[k])
    most = 100 - 10 * (len(live) - 1)
    return "/".join(str(most if k == lightest else 10 if k in live else 0) for k in unweighted)


def weight_examples(subject: DemoSubject) -> tuple[str, str]:
    """An example of one set and of two sets of --weights that fit ``subject``'s subsets:
    (`90/10`, `90/10,50/50`), (`70/20/10`, `70/20/10,34/33/33`), (`100`, `100`)."""
    count = len(subject.versions)
    first = list(subject.default_weights) if sum(subject.default_weights) == 100 else _even(count)
    if count < 2:
        return "100", "100"
    second = _even(count)
    if second == first:
        second = [0] * (count - 1) + [100]
    if second == first:
        second = [100] + [0] * (count - 1)
    one = "/".join(map(str, first))
    return one, f"{one},{'/'.join(map(str, second))}"


def _even(count: int) -> list[int]:
    """100 spread as evenly as whole numbers allow: 3 -> [34, 33, 33]."""
    base, extra = divmod(100, max(count, 1))
    return [base + (1 if i < extra else 0) for i in range(max(count, 1))]


def _check_sets_not_split(text: str, parts: list[str], count: int, example: str) -> None:
    """`--weights 90,10` (a comma where the / of one set goes): the UsageError names the
    mix-up and offers the value meant, `did you mean --weights 90/10?`, when regrouping
    the numbers by the versions' count gives valid sets."""
    if count < 2 or len(parts) < 2 or len(parts) % count or any("/" in p for p in parts):
        return
    try:
        numbers = [parse_int(p.strip(), signed=True) for p in parts]
    except ValueError:
        return
    groups = [numbers[i:i + count] for i in range(0, len(numbers), count)]
    problem = (f"--weights {shown(text)}: {len(parts)} weight sets of 1 weight each (',' separates the sets, "
               "'/' the weights of one set)")
    if any(min(g) < 0 or sum(g) != 100 for g in groups):
        raise UsageError(f"{problem}; use {counted(count, 'weight')} per set that add up to 100, "
                         f"e.g. --weights {example}")
    meant = ",".join("/".join(str(w) for w in g) for g in groups)
    raise UsageError(f"{problem}; did you mean --weights {meant}?")


def _weights_meant(text: str) -> str:
    """--weights ``text`` written with another separator or percent signs (`90-10`, `90:10`,
    `90%/10%`) as the sets it means (90/10) when each then adds up to 100; "" otherwise."""
    meant = re.sub(r"\s*[-:|;]\s*", "/", text.replace("%", "").strip())
    sets = meant.split(",")
    if meant == text or not all(re.fullmatch(r"\d+(/\d+)+", s) for s in sets):
        return ""
    return meant if all(sum(int(w) for w in s.split("/")) == 100 for s in sets) else ""


def _weight_set(text: str, part: str, number: int, subject: DemoSubject, examples: str, names: str,
                check_count: bool = True) -> list[int]:
    """One set of --weights (``number`` 0: the only one), or the UsageError in the one
    form `--weights 90/20: weights add up to 110; use weights that add up to 100, e.g. 90/10`
    """
    which = f"set {number} ({shown(part.strip())}): " if number else ""
    try:
        weights = [parse_int(w.strip(), signed=True) for w in part.strip().split("/")]
    except ValueError:
        if not part.strip():
            raise bad_value("--weights", text, f"set {number} is empty",
                            f"whole numbers separated by / (sets by ,), e.g. {examples}") from None
        meant = _weights_meant(text)
        raise UsageError(f"{given_text('--weights', text)}: {which}weights must be whole numbers separated by / "
                         f"(sets by ,); " + (f"did you mean --weights {meant}?" if meant else f"e.g. {examples}")) \
            from None
    count = len(subject.versions)
    if check_count and len(weights) != count:
        raise bad_value("--weights", text, f"{which}{counted(len(weights), 'weight')} for "
                        f"{counted(count, 'version')} ({names})",
                        f"{counted(count, 'weight')} that add{'s' if count == 1 else ''} up to 100, e.g. {examples}")
    if not check_count and len(weights) == 1 and weights != [100]:  # a set of one is a one-subset route's: 100
        raise bad_value("--weights", text, f"{which}one weight, {weights[0]}",
                        f"weights that add up to 100, e.g. {examples}")
    if min(weights) < 0:
        raise bad_value("--weights", text, f"{which}negative weight {min(weights)}",
                        f"weights >= 0 that add up to 100, e.g. {examples}")
    if sum(weights) != 100:
        raise bad_value("--weights", text, f"{which or 'weights '}add{'s' if number else ''} up to {sum(weights)}",
                        f"weights that add up to 100, e.g. {examples}")
    return weights


# ---------------------------------------------------------------- where it runs


def choose_target(choice: str, documents: list[dict], subject: DemoSubject,
                  sandbox_name: str | None = None, cluster_flags: str = "",
                  namespace: str | None = None, sandbox_flag: str = "--sandbox",
                  kube_target: KubeTarget = KubeTarget(), rerun: Rerun = rerun_line,
                  cluster_by: str = "") -> tuple[DemoTarget, str]:
    """The target for --target auto|local|cluster, and one line saying which and why
    (naming the sandbox or the cluster).

    auto: a configured cluster that answers, else the local sandbox (local_sandbox()
    decides which: ``sandbox_name``, $KMESHCTL_SANDBOX_NAME, the only one up, or a new
    one); a sandbox name given means local. A kubeconfig or context the user named that
    does not load is an error, never a silent local run; so is any cluster the user chose
    on the command line (``cluster_flags``, e.g. "--context prod") that cannot be reached:
    exit 2 for bad input (no such context or file), 1 when it does not answer. cluster:
    that cluster, or an error naming why it cannot be used. ``namespace`` (-n) is where
    the demo's objects are: on a cluster where it deploys them, in a local sandbox where its
    manifests put them (None: the sandbox's only such namespace, `default` first); it
    chooses no target. ``sandbox_flag``: the spelling of the sandbox flag typed (--sandbox
    or --name), for messages about it. ``kube_target``: the cluster configured (--kubeconfig, --context).
    ``rerun``: how a fix repeats the demo on a sandbox (the CLI's keeps every flag typed).
    ``cluster_by``: the flag that chose the cluster when --target was not typed (`--waypoint
    wp`), named by a cluster that cannot be used, with the way to run locally instead."""
    from kmeshctl.demo_cluster import ClusterTarget, in_namespace, reachable_cluster
    from kmeshctl.sandbox.demo_target import LocalTarget

    documents = in_namespace(documents, namespace)  # the cluster demo deploys into -n
    if choice == "cluster" and sandbox_name:
        raise UsageError(f"{sandbox_flag} names a local sandbox: leave it out with --target cluster")
    if choice == "auto" and sandbox_name and cluster_flags:
        raise UsageError(f"{sandbox_flag} names a local sandbox, {cluster_flags} a cluster: give one of them "
                         "(or --target local|cluster)")
    vs = subject.virtual_service
    why = ""
    if choice == "auto" and not sandbox_name:
        client, error = reachable_cluster(kube_target)
        if client is not None:
            return ClusterTarget(client, documents, (namespace or vs.namespace, vs.name), rerun=rerun), \
                f"Target: cluster {client.host} (auto: it answers)"
        assert error is not None
        if cluster_flags:
            named = all(value in str(error) for value in cluster_flags.split()[1::2])
            raise (UsageError if isinstance(error, UsageError) else KmeshctlError)(
                str(error) if named else f"{cluster_flags}: {error}")
        if isinstance(error, UsageError) and kube_target.named:
            raise UsageError(f"--target auto: {error}; or run the demo in a local sandbox: "
                             f"{_local_choice(rerun)}")
        why = f"auto: no reachable cluster: {without_fix(str(error))}"
    elif choice == "cluster":
        client, error = reachable_cluster(kube_target)
        if client is None:
            assert error is not None
            local = f"; or run the demo in a local sandbox: {_local_choice(rerun)}" \
                if isinstance(error, UsageError) else ""  # bad input ($KUBECONFIG): the local run needs none
            raise (UsageError if isinstance(error, UsageError) else KmeshctlError)(
                f"{cluster_by} runs the demo on a cluster: {error}; or leave {cluster_by.split()[0]} out to run "
                "it in a local sandbox" if cluster_by else f"--target cluster: {error}{local}")
        return ClusterTarget(client, documents, (namespace or vs.namespace, vs.name), rerun=rerun), \
            f"Target: cluster {client.host}"
    try:
        name, how = local_sandbox(sandbox_name, sandbox_flag, rerun)
    except KmeshctlError as error:
        if not why:
            raise
        # the sandbox choice alone would hide that the configured cluster was tried first
        # worded without --target: auto is what runs when it is not typed
        raise type(error)(f"{why.removeprefix('auto: ')}; so a local sandbox, but {error}",
                          error.exit_code) from error
    notes = "; ".join(n for n in (why, how) if n)
    target = LocalTarget(name, (namespace or vs.namespace, vs.name), list(subject.default_weights), rerun,
                         sandbox_flag, namespace)
    return target, f"Target: local sandbox {name}" + (f" ({notes})" if notes else "")


def _local_choice(rerun: Rerun = rerun_line) -> str:
    """How to pick the local sandbox instead, as lines to paste (``rerun``: see
    rerun_command): the demo with --sandbox of each one ready that it would run on as
    typed (sandboxes.unfit), else in a new sandbox when some are up, else with --target local."""
    from kmeshctl import sandboxes

    local = [("--target", "--target", "local")]
    found = sandboxes.existing()
    usable = [n for n in sandboxes.fitting(found, DEMO_COMMAND) if found[n] == sandboxes.PHASE_READY]
    if usable:
        return " or ".join(f"`{with_options(rerun_command(n, rerun), local)}`" for n in usable)
    if found:
        new = free_sandbox_name("kmesh")
        line = f"kmeshctl sandbox up --name {new} && {with_options(rerun_command(new, rerun), local)}"
        return f"`{line}`{sandboxes.new_sandbox_weights_note()}"
    return f"`{with_options(rerun(DEMO_COMMAND, '--target', 'local', ''), local)}`"


def local_sandbox(sandbox_name: str | None, flag: str = "--sandbox", rerun: Rerun = rerun_line) -> tuple[str, str]:
    """Which local sandbox the demo uses, and how it was chosen ("" when named): the one
    named (``flag``: the flag as typed, --sandbox or --name), else $KMESHCTL_SANDBOX_NAME,
    else the only sandbox on this machine (kept up, as `sandbox status` and `dump maps`
    pick it), else a new one by the default name (removed afterwards). Several and none
    named: a UsageError listing them; a name that is not up while others are: NotFound
    listing them; nothing started ($KMESHCTL_SANDBOX_NAME is made when not up). ``rerun``:
    see rerun_command."""
    from kmeshctl import sandboxes
    from kmeshctl.sandbox.state import DEFAULT_NAME

    found = sandboxes.names()
    if sandbox_name:
        return _named_sandbox(sandboxes.checked_name(sandbox_name, flag), found, rerun), ""
    from_env = sandboxes.name_from_env()
    if from_env:  # set on purpose by a script (one sandbox per run): made when not up
        return from_env, ""
    only = sandboxes.pick(DEMO_COMMAND, rerun=rerun)  # several up: a UsageError listing them
    if found:
        left = sandboxes.failed_note(only or found[0])
        return found[0], f"the only sandbox up, left up afterwards; --sandbox NAME chooses{left}"
    return DEFAULT_NAME, ""


def _named_sandbox(name: str, found: list[str], rerun: Rerun = rerun_line) -> str:
    """``name`` when it is up, or when no sandbox is (the demo then makes it, as without
    a name); a typed name that is not up while others are is taken for a typo: NotFound
    (exit 1, in the one wording of every command naming a sandbox that does not exist)
    listing them, nothing started; its fix makes the sandbox and runs the demo there."""
    from kmeshctl.sandboxes import not_found

    if name in found or not found:
        return name
    raise not_found(name, f"pass one of them, or make it: `kmeshctl sandbox up --name {name} && "
                          f"{rerun_command(name, rerun)}`")


# ---------------------------------------------------------------- suggested re-runs

DEMO_WORDS = ("demo", "traffic-shift")
DEMO_COMMAND = " ".join(["kmeshctl", *DEMO_WORDS])


def with_namespace(command: str, namespace: str) -> str:
    """``command`` (a demo line to paste) with `-n NAMESPACE` in place of any -n typed."""
    return with_option(command, "-n", "--namespace", namespace)


def with_option(command: str, short: str, long: str, value: str) -> str:
    """``command`` (a line to paste) with `SHORT VALUE` in place of the option typed in any
    form (`-n NS`, `-nNS`, `-n=NS`, `--namespace NS`, `--namespace=NS`)."""
    import shlex

    kept, skip = [], False
    for word in shlex.split(command):
        if skip:
            skip = False
        elif word in (short, long):
            skip = True  # its value is the next word
        elif not word.startswith((f"{long}=", short)):
            kept.append(word)
    return shlex.join([*kept, short, value])


def with_options(command: str, options: Iterable[tuple[str, str, str]] = (), ran: bool = False) -> str:
    """``command`` (a demo line to paste, every flag typed kept) with each (short, long,
    value) of ``options`` in place of the one typed (with_option); ``ran``: a line pasted
    after this run, which wrote its --plot file: --force added, so that the re-run replaces
    it rather than refusing it. Every re-run a fix of the demo offers is made here."""
    import shlex

    words = shlex.split(command)
    if ran and _typed(words, "--plot") and not _typed(words, "--force"):
        command = f"{command} --force"
    for short, long, value in options:
        command = with_option(command, short, long, value)
    return command


def _typed(words: list[str], flag: str) -> bool:
    return any(w == flag or w.startswith(f"{flag}=") for w in words)


def denying_policies(manifests: m.Manifests, subject: DemoSubject) -> list[str]:
    """`AuthorizationPolicy ns/name on subset v2` of each DENY policy with rules that applies
    to the pods of a subset the demo measures (its selector matching their labels, or none:
    every pod of its namespace, or of the mesh from the root namespace): while it denies
    the client's requests, the demo fails. [] when none."""
    from kmeshctl.node import model
    from kmeshctl.sandbox.authz import ROOT_NAMESPACE

    pods = {f"{d.namespace}/{d.name}": d for d in manifests.deployments}
    found: dict[str, list[str]] = {}
    for version in subject.versions:
        for deployment in (pods[ref] for ref in version.deployments if ref in pods):
            for policy in manifests.authorization_policies:
                applies = policy.namespace in (deployment.namespace, ROOT_NAMESPACE) and (
                    policy.selector is None or all(deployment.pod_labels.get(k) == v
                                                   for k, v in policy.selector.items()))
                if policy.action == model.DENY and policy.rules and applies:
                    subsets = found.setdefault(f"AuthorizationPolicy {policy.key}", [])
                    subsets += [] if version.subset in subsets else [version.subset]
    return [f"{ref} on subset{'s' if len(subsets) > 1 else ''} {', '.join(subsets)}" for ref, subsets in found.items()]


def cluster_again(rerun: Rerun, namespace: str, waypoint: str = "", ran: bool = False) -> str:
    """The cluster demo again on namespace ``namespace`` (with `--waypoint WAYPOINT` when
    given), as ``rerun`` spells the demo (the CLI's keeps every flag typed: -c, --weights,
    -o, --plot, -v/-q, --kubeconfig/--context; the bare one outside a run): `kmeshctl demo
    traffic-shift -c 50 --weights 80/20 --target cluster -n default --waypoint wp`. ``ran``:
    see with_options."""
    options = [("--target", "--target", "cluster"), ("-n", "--namespace", namespace)]
    if waypoint:
        options.append(("--waypoint", "--waypoint", waypoint))
    return with_options(rerun(DEMO_COMMAND, "--target", "cluster", ""), options, ran)


def rerun_command(sandbox: str, rerun: Rerun = rerun_line) -> str:
    """The demo, again, on sandbox ``sandbox``, as ``rerun`` spells it: the CLI passes one
    (kmeshctl.cli.render.rerun_line, the one way every fix that names a sandbox repeats the
    command) that keeps every flag the user typed but the sandbox's, which the fix
    replaces: `kmeshctl demo traffic-shift --sandbox NAME -c 1 --weights ...`; by default
    (outside a demo run) the bare command."""
    return rerun(DEMO_COMMAND, "--sandbox", sandbox, "")


NEW_SANDBOX_SUFFIX = "-demo"


def in_new_sandbox(name: str, rerun: Rerun = rerun_line) -> str:
    """`kmeshctl sandbox up --name NAME-demo && kmeshctl demo traffic-shift --sandbox
    NAME-demo ...`: the demo in a sandbox of its own (one no sandbox uses, made with the
    demo's manifests), for a sandbox ``name`` that lacks them: never a fix that removes
    the user's sandbox and workloads. ``rerun``: see rerun_command."""
    new = free_sandbox_name(name)
    return f"kmeshctl sandbox up --name {new} && {rerun_command(new, rerun)}"


def free_sandbox_name(base: str) -> str:
    """`BASE-demo` (then `BASE-demo2`, ...), cut to a valid sandbox name, that names no
    sandbox nor the logs of a failed `sandbox up`."""
    from kmeshctl import sandboxes
    from kmeshctl.sandbox.state import NAME_MAX

    taken = set(sandboxes.names()) | set(sandboxes.failed_up_names())
    for number in range(1, 100):
        suffix = NEW_SANDBOX_SUFFIX + (str(number) if number > 1 else "")
        candidate = base[:NAME_MAX - len(suffix)].rstrip("-") + suffix
        if candidate not in taken:
            return candidate
    raise KmeshctlError(f"no free sandbox name like {base}{NEW_SANDBOX_SUFFIX}: remove some with "
                        "`kmeshctl sandbox down --name NAME`")


def without_fix(message: str) -> str:
    """An error message without its fix (the part after the first `; ` or `: check`
    outside parentheses), its parentheses balanced: for a note, not an error."""
    depth = 0
    for index, char in enumerate(message):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and (message.startswith("; ", index) or message.startswith(": check ", index)):
            message = message[:index]
            break
    return message + ")" * max(0, message.count("(") - message.count(")"))


# ---------------------------------------------------------------- the run


@dataclass
class TrafficCount:
    requests: int = 0
    failures: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # Server header -> successful requests
    failed: list[RequestResult] = field(default_factory=list)
    first_at: float = 0.0  # monotonic time of the first and last answer: the rate a re-run would see
    last_at: float = 0.0

    def add(self, result: RequestResult) -> None:
        self.last_at = time.monotonic()
        self.first_at = self.first_at or self.last_at
        self.requests += 1
        if result.ok:
            self.counts[result.server] = self.counts.get(result.server, 0) + 1
        else:
            self.failures += 1
            self.failed.append(result)

    def to_json(self, subject: "DemoSubject") -> dict:
        by_subset = {v.subset: self.counts.get(v.server, 0) for v in subject.versions}
        known = {v.server for v in subject.versions}
        return {"requests": self.requests, "failures": self.failures, "counts": by_subset,
                "other_servers": {k: n for k, n in sorted(self.counts.items()) if k not in known},
                "counts_by_server": dict(sorted(self.counts.items())),
                "failed_requests": [r.to_json() for r in self.failed]}


def _shares(counts: dict[str, int]) -> dict[str, float | None]:
    total = sum(counts.values())
    return {k: (round(n / total, 6) if total else None) for k, n in counts.items()}


P_VALUE_DIGITS = 4  # significant digits of a p-value as shown (JSON and text)


def shown_p_value(p_value: Optional[float]) -> Optional[float]:
    """``p_value`` rounded to P_VALUE_DIGITS significant digits (0.2880382 -> 0.288,
    1.234567e-09 -> 1.235e-09): the test's precision, not the float's. The verdict is
    taken on the unrounded value."""
    return None if p_value is None else float(f"{p_value:.{P_VALUE_DIGITS}g}")


@dataclass
class PhaseReport:
    weights: dict[str, int]
    expected: dict[str, int]  # Server value -> weight
    traffic: TrafficCount
    p_value: Optional[float]
    test: str
    change: Optional[TrafficCount] = None  # the background traffic while switching to it
    needed: int = 0  # successful requests the check needs to tell the weights from an even spread
    unweighted: dict[str, float] = field(default_factory=dict)  # subset -> share routing without weights gives
    like_unweighted: bool = False  # no count (up to MAX_REQUESTS) tells the weights from that share

    @property
    def consistent(self) -> bool:
        return self.p_value is not None and self.p_value >= P_VALUE_FLOOR

    @property
    def judged(self) -> bool:
        """False for a split that passed the check on too few requests to mean anything
        (splitstats.min_requests); a rejection stands at any count."""
        return sum(self.traffic.counts.values()) >= self.needed or not self.consistent

    def to_json(self, number: int, subject: "DemoSubject") -> dict:
        """One phase of the documented schema (docs/usage.md, "The demo's JSON")."""
        traffic = self.traffic.to_json(subject)
        weight_sum = sum(self.weights.values()) or 1
        return {
            "phase": number,
            "weights": self.weights,
            "configured_share": {k: round(w / weight_sum, 6) for k, w in self.weights.items()},
            "counts": traffic["counts"],
            "observed_share": _shares(traffic["counts"]),
            "other_servers": traffic["other_servers"],
            "counts_by_server": traffic["counts_by_server"],
            "test": self.test,
            "p_value": shown_p_value(self.p_value),
            "consistent": self.consistent,
            "needed_requests": self.needed,
            "judged": self.judged,
            "requests": traffic["requests"],
            "failures": traffic["failures"],
            "failed_requests": traffic["failed_requests"],
            "during_change": None if self.change is None else self.change.to_json(subject),
        }


SCHEMA = "kmeshctl.demo.traffic-shift/v1"


@dataclass
class DemoReport:
    target: str
    requests: int
    phases: list[PhaseReport]
    subject: Optional["DemoSubject"] = None
    where: str = ""  # the sandbox name or the cluster's API address
    stopped: str = ""  # why the run ended before sending every request ('' when it did not)
    not_written: str = ""  # the error line of output the run could not write at its end (--plot)
    planned: int = 0  # requests of every phase (--requests times the weight sets)
    began: bool = False  # the target was prepared: from here on requests could be sent
    reason: str = ""  # why it did not pass, as far as the demo can tell ('' when it passed or cannot tell)
    fix: str = ""  # the command that fixes it, when one does: the run again with the -c it needs
    fix_seconds: Optional[float] = None  # how long ``fix`` would run at the rate measured

    @property
    def failures(self) -> int:
        return sum(p.traffic.failures + (p.change.failures if p.change else 0) for p in self.phases)

    @property
    def sent(self) -> int:
        return sum(p.traffic.requests + (p.change.requests if p.change else 0) for p in self.phases)

    @property
    def passed(self) -> bool:
        return not self.stopped and not self.not_written and self.failures == 0 and all(
            p.consistent and p.judged for p in self.phases)

    def to_json(self) -> dict:
        """The documented, stable schema (docs/usage.md, "The demo's JSON"); a run stopped
        before its target or manifests were known has `target` null or no `subsets`."""
        subject = self.subject
        phases = [p.to_json(n, subject) for n, p in enumerate(self.phases, start=1)] if subject else []
        change_requests = sum(p.change.requests for p in self.phases if p.change)
        return {
            "schema": SCHEMA,
            "target": self.target or None,
            "sandbox": (self.where or None) if self.target == "local" else None,
            "cluster": (self.where or None) if self.target == "cluster" else None,
            "subsets": [{"subset": v.subset, "server": v.server} for v in subject.versions] if subject else [],
            "requests": self.requests,
            "totals": {"requests": sum(p.traffic.requests for p in self.phases) + change_requests,
                       "failures": self.failures, "phases": len(self.phases),
                       "during_changes": change_requests},
            "failures": self.failures,
            "p_value_floor": P_VALUE_FLOOR,
            "phases": phases,
            "passed": self.passed,
            "error": self.stopped or self.not_written or None,
            "reason": self.reason or None,
            "fix": self.fix or None,
            "fix_seconds": None if self.fix_seconds is None else round(self.fix_seconds),
        }


OnRequest = Callable[[int, RequestResult, Version | None], None]


def new_report(target: DemoTarget, subject: DemoSubject, requests: int, phases: int) -> DemoReport:
    """The empty report of a run on ``target`` of ``phases`` weight sets: run_traffic_shift
    fills it, so what was sent before a stop (Ctrl-C, SIGTERM) is still in it."""
    where = getattr(target, "sandbox_name", "") or getattr(getattr(target, "client", None), "host", "")
    return DemoReport(target.name, requests, [], subject, where, planned=requests * phases)


def unstarted_report(target: Optional[DemoTarget], subject: Optional[DemoSubject], requests: int,
                     typed_target: str = "") -> DemoReport:
    """The report of a run stopped before new_report made one (reading the manifests,
    choosing the target): no phase. ``typed_target``: --target as typed, for a target not
    chosen yet ('' for auto: `target` null)."""
    if target is not None and subject is not None:
        return new_report(target, subject, requests, 0)
    return DemoReport(typed_target, requests, [], subject)


def run_traffic_shift(target: DemoTarget, subject: DemoSubject, requests: int,
                      weight_sets: list[list[int]], on_request: OnRequest,
                      on_phase: Callable[[int, list[int]], None],
                      report: Optional[DemoReport] = None) -> DemoReport:
    """Send the phases into ``report`` (default: a new one). Stopped by a KeyboardInterrupt
    (Ctrl-C, or Stopped for SIGTERM), the phase under way goes into the report with the
    requests it sent, and the interrupt goes on."""
    if requests < 1:
        raise UsageError("--requests must be at least 1")
    report = report or new_report(target, subject, requests, len(weight_sets))
    phases = report.phases
    current = list(subject.default_weights)
    ensure = getattr(target, "ensure_weights", None)
    for number, weights in enumerate(weight_sets, start=1):
        change, traffic = None, TrafficCount()
        try:
            try:
                if weights != current and _podless_weighted(subject, current):
                    target.set_weights(weights)  # no traffic while a subset without a pod gets some (check_pods)
                    current = weights
                elif weights != current:
                    change = TrafficCount()
                    _change_under_traffic(target, weights, change)
                    current = weights
                elif number == 1 and callable(ensure):
                    ensure(weights)  # never assumed in force: a demo killed mid-run leaves its own
            except KmeshctlError:
                if not lost_reason(target):
                    raise
                report.stopped = _stopped_text(target, report)
                return report
            on_phase(number, weights)
            # closed at once when the demo stops early (Ctrl-C, SIGTERM): that ends the loop
            with contextlib.closing(target.run_loop(loop_argv(target.service_url(), requests))) as lines:
                for result in _results(lines):
                    traffic.add(result)
                    on_request(number, result, _version_of(subject, result.server))
        except KeyboardInterrupt:
            phases.append(_phase_report(subject, weights, traffic, change))
            raise
        phases.append(_phase_report(subject, weights, traffic, change))
        if traffic.requests < requests:  # the loop ended early: its pod (or sandbox) is gone
            report.stopped = _stopped_text(target, report)
            return report
    return report


def _stopped_text(target: DemoTarget, report: DemoReport) -> str:
    """`sandbox S went away during the demo (404 of 3000 requests sent)`."""
    why = lost_reason(target) or "the request loop ended early (its pod's processes were stopped)"
    return f"{why} ({sent_text(report)})"


def sent_text(report: DemoReport) -> str:
    """`404 of 3000 requests sent`: every request sent, of those planned; with several
    phases or a weight change, each phase's count too, and those sent while switching
    weights (not part of the plan, counted in the first number, as in totals.requests):
    `1392 requests sent: 1340 of the 3000 planned and 52 while switching weights; phase 1:
    1000 of 1000, phase 2: 340 of 1000 and 52 while switching to its weights`."""
    phase_sent = sum(p.traffic.requests for p in report.phases)
    planned, switching = report.planned or report.requests, report.sent - phase_sent
    text = f"{report.sent} requests sent: {phase_sent} of the {planned} planned and {switching} while switching " \
        "weights" if switching else f"{phase_sent} of {planned} requests sent"
    if report.planned <= report.requests and not any(p.change for p in report.phases):
        return text
    phases = []
    for number, phase in enumerate(report.phases, start=1):
        during = f" and {phase.change.requests} while switching to its weights" if phase.change else ""
        phases.append(f"phase {number}: {phase.traffic.requests} of {report.requests}{during}")
    return f"{text}; {', '.join(phases)}" if phases else text


def stop_text(stop: Stopped, report: Optional[DemoReport], made: str = "") -> str:
    """The one line of a stopped demo: `stopped by SIGTERM (340 of 3000 requests sent;
    phase 1: ...)`, or, when none was sent (before phase 1 or early in it), `... before
    any request was sent` and then ``made`` (made_text): what the run made is then all it
    did, so it says so (a run that sent requests left its objects as any run does)."""
    if report is None or report.sent == 0:
        return f"stopped by {stop.how} before any request was sent" + (f"; {made}" if made else "")
    return f"stopped by {stop.how} ({sent_text(report)})"


def made_text(target: Optional[DemoTarget]) -> str:
    """What ``target``'s run left behind and how to remove it ('' for none: a sandbox
    made for the run is removed by its finish)."""
    said = getattr(target, "made_text", None)
    return said() if callable(said) else ""


def too_few_text(report: DemoReport, rerun: Optional[Callable[[int], str]] = None) -> str:
    """`too few requests to judge (need at least 12 for these weights): re-run with -c 12`
    when a phase passed the check on too few requests, else ''; with ``rerun`` (the demo
    again with -c N, every other flag typed kept), ending `: `kmeshctl demo ... -c 12``
    instead, ready to paste."""
    needed = needed_requests(report)
    if not needed:
        return ""
    fix = f"`{rerun(needed)}`" if rerun else f"re-run with -c {needed}"
    return f"too few requests to judge (need at least {needed} for these weights{_taking(report)}): {fix}"


LONG_RUN_S = 60  # a re-run longer than this says how long it takes


def _taking(report: DemoReport) -> str:
    """`, about 12 min per phase at the 97 requests/s measured` when the run the fix
    suggests (-c needed_requests) would take over LONG_RUN_S; '' else."""
    seconds, rate = rerun_seconds(report), measured_rate(report)
    if seconds is None or rate is None or seconds < LONG_RUN_S:
        return ""
    phases = len(report.phases)
    each = f"{_minutes(seconds / phases)} per phase, {_minutes(seconds)} in all" if phases > 1 else _minutes(seconds)
    return f", about {each} at the {rate:.0f} requests/s measured"


def _minutes(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{max(1, round(seconds / 60))} min"


def measured_rate(report: DemoReport) -> Optional[float]:
    """Requests per second the run's phases were answered at (first to last answer), None
    when too few answers tell."""
    timed = [p.traffic for p in report.phases if p.traffic.requests > 1 and p.traffic.last_at > p.traffic.first_at]
    if not timed:
        return None
    return sum(t.requests - 1 for t in timed) / sum(t.last_at - t.first_at for t in timed)


def rerun_seconds(report: DemoReport) -> Optional[float]:
    """How long the demo again with -c needed_requests would send its requests at the rate
    measured (every phase; None when no -c is needed or no rate is known)."""
    needed, rate = needed_requests(report), measured_rate(report)
    if not needed or not rate:
        return None
    return needed * len(report.phases) / rate


def needed_requests(report: DemoReport) -> int:
    """The -c a run that passed on too few requests needs (0 when none did)."""
    return max((p.needed for p in report.phases if not p.judged), default=0)


def more_requests_needed(report: DemoReport) -> int:
    """The -c that fixes a run whose only fault is too few requests to judge (0 when that
    is not why it did not pass: a failed request, a rejected split, a stop)."""
    if report.passed or report.stopped or report.failures or not all(p.consistent for p in report.phases):
        return 0
    return needed_requests(report)


def fail_reason(target: DemoTarget, report: DemoReport, rerun: Optional[Callable[[int], str]] = None) -> str:
    """Why the run did not pass, in one phrase ('' when it passed, stopped, or nothing
    tells): a request failed or a split was rejected: what the target sees wrong
    (its ``fail_reason``: the cluster's kmesh, namespace, waypoint); else too few requests
    (``rerun``: see too_few_text)."""
    if report.passed or report.stopped:
        return ""
    if report.failures or not all(p.consistent for p in report.phases):
        ask = getattr(target, "fail_reason", None)
        return ask(report) if callable(ask) else ""
    return too_few_text(report, rerun)


def _results(lines: Iterable[str]) -> Iterator[RequestResult]:
    for line in lines:
        result = parse_result_line(line)
        if result is not None:
            yield result


def _version_of(subject: DemoSubject, server: str) -> Version | None:
    return next((v for v in subject.versions if v.server == server), None)


class _BackgroundLoop:
    """The loop that sends requests while the weights change, on its own thread. Its
    failure is kept for the main thread to raise (a thread's exception would only be
    printed, the change then reported as measured)."""

    def __init__(self, target: DemoTarget, counted: TrafficCount) -> None:
        self.target, self.counted = target, counted
        self.stop_file = f"/tmp/kmeshctl-demo-stop-{uuid.uuid4().hex[:12]}"
        self.argv = loop_argv(target.service_url(), 0, self.stop_file, MAX_BACKGROUND_S)
        self.error: Exception | None = None
        self.ended = threading.Event()  # the loop ended: it removes no stop file made after
        self.sending = threading.Event()  # its first result, or its end
        self._thread = threading.Thread(target=self._run, name="demo-background", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            with contextlib.closing(self.target.run_loop(self.argv)) as lines:
                for result in _results(lines):
                    self.sending.set()
                    self.counted.add(result)
        except Exception as err:  # noqa: BLE001 (raised on the main thread, by stop)
            self.error = err
        finally:
            self.ended.set()
            self.sending.set()

    def stop(self) -> None:
        """End the loop (the stop file it removes as it ends) and wait for it; a stop file
        a failed loop may have left is removed."""
        touched = not self.ended.is_set()  # an ended loop would never remove it
        if touched:
            self.target.touch(self.stop_file)
        self._thread.join(MAX_BACKGROUND_S)
        if touched and self.error is not None:
            self._remove_stop_file()

    def _remove_stop_file(self) -> None:
        """Best effort, by a loop of no request and no time: it only removes its stop file."""
        argv = loop_argv(self.target.service_url(), 0, self.stop_file, 0)
        with contextlib.suppress(Exception), contextlib.closing(self.target.run_loop(argv)) as lines:
            for _line in lines:
                pass


def _change_under_traffic(target: DemoTarget, weights: list[int], background: TrafficCount) -> None:
    """Switch the weights while a background loop keeps sending requests (counted into
    ``background``, so a stop mid-change still knows them); its failure (exec refused,
    pod gone) is raised here, as the phase loop's would be."""
    loop = _BackgroundLoop(target, background)
    try:
        loop.sending.wait(CHANGE_LEAD_S * 10)
        if loop.error is None:  # a loop that failed at once measures no change
            threading.Event().wait(CHANGE_LEAD_S)
            target.set_weights(weights)
            threading.Event().wait(CHANGE_LEAD_S)
    finally:
        loop.stop()
    if loop.error is not None:
        raise loop.error


def phase_needed(subject: DemoSubject, weights: Iterable[int]) -> int:
    """The successful requests a phase at ``weights`` on ``subject`` needs to be judged
    (PhaseReport.needed): fewer, and a pass is `too few requests to judge`."""
    expected = {v.server: w for v, w in zip(subject.versions, weights)}
    return min_requests(expected, P_VALUE_FLOOR, subject.pod_counts)


def _phase_report(subject: DemoSubject, weights: list[int], traffic: TrafficCount,
                  change: TrafficCount | None) -> PhaseReport:
    expected = {v.server: w for v, w in zip(subject.versions, weights)}
    tested = split_test(traffic.counts, expected)
    pods = subject.pod_counts
    total_pods = sum(pods.values()) or 1
    return PhaseReport(
        needed=phase_needed(subject, weights),
        unweighted={v.subset: round(v.pods / total_pods, 6) for v in subject.versions},
        like_unweighted=like_unweighted(expected, pods, P_VALUE_FLOOR),
        weights={v.subset: w for v, w in zip(subject.versions, weights)},
        expected=expected,
        traffic=traffic,
        p_value=None if tested is None else tested.p_value,
        test="none" if tested is None else tested.test,
        change=change,
    )
