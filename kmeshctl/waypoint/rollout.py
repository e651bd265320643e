"""A waypoint Deployment's rollout, read as `kubectl rollout status deployment` reads
it: the controller has seen the latest template (observedGeneration), every wanted pod
is of that template (updatedReplicas), none of an older template is left (replicas ==
updatedReplicas) and the new ones are available; a rollout past its progress deadline
has failed. Also the image a rollout replaced (what a put-back line offers)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from kmeshctl.errors import KmeshctlError
from kmeshctl.kube import KubeClient
from kmeshctl.params import counted

# The Deployment controller's revision of each ReplicaSet (and of the Deployment's latest).
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
DEADLINE_REASON = "ProgressDeadlineExceeded"  # the Progressing condition's reason once the rollout gave up


@dataclass(frozen=True)
class DeploymentRollout:
    found: bool
    wanted: int = 0  # spec.replicas
    observed: bool = False  # the controller has seen the latest spec
    updated: int = 0  # pods of the latest template
    total: int = 0  # pods of every template
    available: int = 0
    image: str = ""  # the template's (its first container's: each runs the one --image)
    deadline: str = ""  # the Progressing condition's message once past progressDeadlineSeconds

    @property
    def old(self) -> int:
        """Pods of an earlier template still there (they serve until the new ones are available)."""
        return max(self.total - self.updated, 0)

    @property
    def done(self) -> bool:
        return not self.waiting_for() and not self.deadline

    def waiting_for(self) -> str:
        """What the rollout still waits for, "" when it is done."""
        if not self.found:
            return "its Deployment is not there"
        if not self.observed:
            return "the Deployment controller has not seen the new template yet"
        if self.updated < self.wanted:
            return f"{self.updated} of {self.wanted} new pods made"
        if self.old:  # (availableReplicas counts the old pods too: it says nothing of the new ones then)
            new = "new one is" if self.updated == 1 else "new ones are"
            return f"{counted(self.old, 'old pod')} still there until the {new} available"
        if self.available < self.updated:
            return f"{self.available} of {self.updated} new pods available"
        return ""


def rollout_of(deployment: Optional[dict]) -> DeploymentRollout:
    """The rollout of ``deployment`` as read (None: not there)."""
    if deployment is None:
        return DeploymentRollout(found=False)
    meta, spec, status = deployment["metadata"], deployment.get("spec") or {}, deployment.get("status") or {}
    progressing = next((c for c in status.get("conditions") or [] if c.get("type") == "Progressing"), {})
    return DeploymentRollout(
        found=True, wanted=int(spec.get("replicas", 1)),
        observed=int(status.get("observedGeneration", 0)) >= int(meta.get("generation", 1)),
        updated=int(status.get("updatedReplicas", 0)), total=int(status.get("replicas", 0)),
        available=int(status.get("availableReplicas", 0)), image=template_image(deployment),
        deadline=str(progressing.get("message") or DEADLINE_REASON) if progressing.get("reason") == DEADLINE_REASON
        else "")


def replaced_image(client: KubeClient, deployment: dict, pods: list[dict], before: str = "") -> str:
    """The image the current template of ``deployment`` replaced: ``before`` (its image
    before this apply) when another; else that of its ready ``pods`` still running another
    (old pods serve until the new ones are available); else the newest earlier ReplicaSet's
    (the controller keeps them). "" when none is known (a first apply), or cannot be read."""
    current = template_image(deployment)
    if before and before != current:
        return before
    older = [template_image({"spec": {"template": p}}) for p in pods if _ready(p)]
    older = [image for image in older if image and image != current]
    if older:
        return older[0]
    try:
        return _replicaset_image(client, deployment, current)
    except KmeshctlError:  # ApiError is one: only a suggestion depends on it
        return ""


def template_image(owner: dict) -> str:
    """The image of the first container of ``owner``'s pod template (a Deployment's,
    ReplicaSet's): every container of a waypoint runs the one --image."""
    spec = ((owner.get("spec") or {}).get("template") or {}).get("spec") or {}
    return next((c.get("image", "") for c in spec.get("containers") or [] if c.get("image")), "")


def _ready(pod: dict) -> bool:
    if pod["metadata"].get("deletionTimestamp"):
        return False
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _replicaset_image(client: KubeClient, deployment: dict, current: str) -> str:
    """The image of ``deployment``'s newest ReplicaSet (by revision) whose template is not ``current``."""
    meta = deployment["metadata"]
    owned = [r for r in client.list("apps/v1", "ReplicaSet", meta["namespace"])
             if any(o.get("uid") == meta.get("uid") for o in r["metadata"].get("ownerReferences") or [])]
    for replicaset in sorted(owned, key=_revision, reverse=True):
        image = template_image(replicaset)
        if image and image != current:
            return image
    return ""


def _revision(replicaset: dict) -> int:
    value = ((replicaset["metadata"].get("annotations") or {}).get(REVISION_ANNOTATION) or "0")
    return int(value) if value.isdigit() else 0
