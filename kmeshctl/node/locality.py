"""This node's locality (region, zone, subzone) from the Kubernetes Node's topology labels.

``routing_preference`` puts the endpoints in this node's region / zone / subzone into the
first priority group, so the agent needs to know where its node is. The Node object's
labels are the authority (istiod derives the workloads' localities from the same labels).
Without Kubernetes access (the sandbox), or when the Node has none of the labels, the
map sync falls back to the locality of a workload in the xDS cache that runs on this node.

The labels are read once at start: Kubernetes sets them when the node registers.
"""

from __future__ import annotations

import logging
from typing import Any, Mapping, Optional

from kmeshctl.node.model import Locality

log = logging.getLogger("kmeshctl.locality")

REGION_LABEL = "topology.kubernetes.io/region"
ZONE_LABEL = "topology.kubernetes.io/zone"
SUBZONE_LABEL = "topology.istio.io/subzone"


def locality_from_labels(labels: Mapping[str, str]) -> Optional[Locality]:
    """The locality the labels name, or None when they name none of its parts."""
    region, zone, subzone = (labels.get(k, "") for k in (REGION_LABEL, ZONE_LABEL, SUBZONE_LABEL))
    if not (region or zone or subzone):
        return None
    return Locality(region=region, zone=zone, subzone=subzone)


def read_node_locality(core_api: Any, node_name: str) -> Optional[Locality]:
    """The locality of Node ``node_name`` (a CoreV1Api ``read_node``), or None when the
    Node cannot be read or has no topology labels; never raises (the cache fallback
    still gives locality-aware groups, so a missing permission must not stop the agent)."""
    try:
        node = core_api.read_node(node_name)
    except Exception as err:  # noqa: BLE001 - ApiException (403/404) or a transport error alike
        log.warning("event=node_locality_unavailable node=%s error=%r fallback=workload_on_this_node",
                    node_name, _short_error(err))
        return None
    locality = locality_from_labels(node.metadata.labels or {})
    if locality is None:
        log.info("event=node_locality source=none node=%s detail=%r fallback=workload_on_this_node",
                 node_name, f"no {REGION_LABEL}, {ZONE_LABEL} or {SUBZONE_LABEL} label")
    else:
        log.info("event=node_locality source=node_labels node=%s region=%s zone=%s subzone=%s",
                 node_name, locality.region, locality.zone, locality.subzone)
    return locality


def _short_error(err: Exception) -> str:
    status, reason = getattr(err, "status", None), getattr(err, "reason", None)
    if status is not None:
        return f"{status} {reason or ''}".strip()
    return str(err).splitlines()[0][:200] if str(err) else type(err).__name__
