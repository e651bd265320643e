"""Writes the L4 authorization tables (``kmeshctl.node.authz``) of this node's workloads into the
pinned maps on every cache delta; a second sink next to ``MapSync``.

Per destination address (a local workload's IP) it keeps the table in force. A changed
set of policies (or port classes) is written as a new table id, entries first, then the
destination is switched to it in one map update, then the old table's entries are
deleted: a connection sees the old or the new policy set, never a mix. A change of the
known source workloads alone (a pod came or went) updates the entries of the table in
force one by one, each of which is right for the new state.

Loud failures, never a silent skip: a table that cannot be written (a full map, more
than ``authz.MAX_RULES_PER_TABLE`` entries) makes its destination fail closed (every new
connection refused, ``deny_all`` in ``dump maps``) when an enforced policy applies,
logs ``event=authz_unenforceable``, counts it and NACKs the policies concerned by name.
A workload whose ``authorization_policies`` names a policy not yet received keeps its
last good tables (``event=authz_policy_pending``).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Iterable, Optional

from kmeshctl.node import authz
from kmeshctl.bounded import clip
from kmeshctl.maps import (AuthzDstKey, AuthzDstValue, AuthzPolKey, AuthzPolValue, AuthzPortKey,
                           AuthzPortValue, AuthzRuleKey, AuthzRuleValue, AuthzVerdict, DataplaneMaps,
                           MapError)
from kmeshctl.node.model import IPAddress, Policy, Workload
from kmeshctl.node.workload_cache import CacheDelta, WorkloadCache

log = logging.getLogger("kmeshctl.authz")


@dataclass
class AuthzReport:
    """What the authorization sink could not enforce, by policy name (NACK lines)."""

    problems: dict[str, list[str]] = field(default_factory=dict)

    def problems_for(self, names: Iterable[str]) -> list[str]:
        return [f"{clip(n)}: {p}" for n in names for p in self.problems.get(n, [])]


@dataclass
class _InForce:
    table_id: int
    compiled: authz.CompiledTable
    deny_all: bool = False


class AuthzSync:
    """``AuthzSync(maps, cache, node_name)(delta) -> AuthzReport``. ``node_name`` ""
    compiles every workload with an address (local enrollment, tests)."""

    def __init__(self, maps: DataplaneMaps, cache: WorkloadCache, node_name: str = "") -> None:
        self.maps = maps
        self.cache = cache
        self.node_name = node_name
        self._lock = threading.Lock()
        self._in_force: dict[IPAddress, _InForce] = {}
        self._policy_ids: dict[str, int] = {}
        self._next_table = 1
        self.unenforceable: dict[str, str] = {}  # workload uid -> why it fails closed
        self.pending: dict[str, list[str]] = {}  # workload uid -> policy names not known yet
        self.unenforceable_total = 0
        self.write_errors = 0
        self._policies_seen = False  # no Authorization received yet (after a restart)
        self._adopt_pinned()

    # ----- state left by a previous agent -------------------------------------------------

    def _adopt_pinned(self) -> None:
        """Policy ids and the next table id from the pinned maps (a restart keeps both;
        the tables in force stay until the first sync replaces them)."""
        for key, value in self.maps.authz_pol.items():
            self._policy_ids[value.name] = key.id
        tables = [v.table for _, v in self.maps.authz_dst.items()]
        self._next_table = max(tables, default=0) + 1
        self._stale_dsts = {k.addr: v.table for k, v in self.maps.authz_dst.items()}

    # ----- sink -------------------------------------------------------------------------

    def __call__(self, delta: CacheDelta) -> AuthzReport:
        return self.apply(delta)

    def apply(self, delta: Optional[CacheDelta] = None) -> AuthzReport:
        """Recompile this node's workloads and write what changed. Never raises."""
        if delta is not None and not (delta.everything or delta.workloads or delta.authorizations) and self._in_force:
            return AuthzReport()
        if not (self.cache.authorizations or self._in_force or self._stale_dsts or self.pending):
            # No policy anywhere and nothing enforced: nothing to compile. Without this, every
            # pod change would walk every workload (66 ms per change at 10,000 endpoints).
            return AuthzReport()
        with self._lock:
            report = AuthzReport()
            if delta is not None and (delta.authorizations or self.cache.authorizations):
                self._policies_seen = True
            try:
                self._sync(report)
            except Exception as err:  # noqa: BLE001 - the cache already changed; the next delta retries
                self.write_errors += 1
                log.exception("event=authz_apply_failed error=%r", clip(str(err)))
            return report

    def _local(self) -> list[Workload]:
        return [w for w in self.cache.workloads.values()
                if w.addresses and (not self.node_name or w.node == self.node_name)]

    def _sync(self, report: AuthzReport) -> None:
        policies = self.cache.authorizations
        sources = authz.sources_of(self.cache.workloads.values())
        wanted: dict[IPAddress, tuple[str, authz.CompiledTable]] = {}
        held: set[IPAddress] = set()
        self.pending = {}
        for workload in self._local():
            compiled = authz.compile_workload(workload, policies, sources)
            if compiled.missing:
                self.pending[workload.uid] = compiled.missing
                log.warning("event=authz_policy_pending workload=%s policies=%s (its last good tables "
                            "stay in force)", clip(workload.uid), clip(",".join(compiled.missing)))
                held.update(workload.addresses)
                continue
            for table in compiled.tables:
                wanted[table.dst] = (workload.uid, table)
                for problem in table.problems:
                    self._problem(report, problem.policy, problem.message, workload.uid)
        self.unenforceable = {}
        for dst, (uid, table) in wanted.items():
            self._write(dst, uid, table, report)
        for dst in set(self._in_force) - set(wanted) - held:
            self._remove(dst)
        for dst, table_id in list(self._stale_dsts.items()):
            if not self._policies_seen and dst not in wanted:
                continue  # a restart: the previous agent's tables hold until istiod's policies arrive
            if dst in held and dst not in self._in_force:
                continue  # a previous agent's table stays in force until the policies are known
            if dst in wanted:
                self._delete_table_entries(table_id)  # replaced by this agent's table above
            else:
                self._remove_pinned(dst, table_id)
            del self._stale_dsts[dst]
        self._release_unused_policy_ids()

    def _problem(self, report: AuthzReport, policy: str, message: str, uid: str) -> None:
        lines = report.problems.setdefault(policy, [])
        if message not in lines:
            lines.append(message)
            log.warning("event=authz_policy_problem policy=%s workload=%s problem=%r",
                        clip(policy), clip(uid), message)

    # ----- writing ------------------------------------------------------------------------

    def policy_id(self, key: str, policy: Optional[Policy] = None) -> int:
        """The id of policy ``key`` (stable while pinned), registered in km_authz_pol."""
        if not key:
            return 0
        known = self._policy_ids.get(key)
        if known is None:
            used = set(self._policy_ids.values())
            known = next(i for i in range(1, len(used) + 2) if i not in used)
            self._policy_ids[key] = known
        if policy is not None:
            value = AuthzPolValue(key, policy.action, policy.dry_run)
            if self.maps.authz_pol.lookup(AuthzPolKey(known)) != value:
                self.maps.authz_pol.update(AuthzPolKey(known), value)
        return known

    def _release_unused_policy_ids(self) -> None:
        """Free the id, ``km_authz_pol`` entry and counters of every policy that no table
        in force names (policies come and go: without this the map fills up). Kept while
        a previous agent's tables are in force: their rules name ids by number only."""
        if self._stale_dsts:
            return
        named = {name for held in self._in_force.values() for decision in held.compiled.rules.values()
                 for name in (decision.policy, decision.shadow_policy)}
        unused = {id_: key for key, id_ in self._policy_ids.items() if key not in named}
        if not unused:
            return
        for stat in [k for k in self.maps.authz_stats.keys() if k.policy in unused]:
            self.maps.authz_stats.delete(stat)  # a reused id starts its counts from zero
        for id_, key in unused.items():
            self.maps.authz_pol.delete(AuthzPolKey(id_))
            del self._policy_ids[key]
            log.info("event=authz_policy_id_released policy=%s id=%d", clip(key), id_)

    def policy_names(self) -> dict[int, str]:
        return {i: k for k, i in self._policy_ids.items()}

    def _rule_value(self, decision: authz.Decision, policies: dict[str, Policy]) -> AuthzRuleValue:
        return AuthzRuleValue(
            AuthzVerdict(decision.verdict), self.policy_id(decision.policy, policies.get(decision.policy)),
            AuthzVerdict(decision.shadow_verdict),
            self.policy_id(decision.shadow_policy, policies.get(decision.shadow_policy)))

    def _entries(self, table_id: int, table: authz.CompiledTable
                 ) -> tuple[dict[AuthzPortKey, AuthzPortValue], dict[AuthzRuleKey, AuthzRuleValue]]:
        by_key = {p.key: p for p in table.policies}
        ports = {AuthzPortKey(table_id, port): AuthzPortValue(cls) for port, cls in table.ports.items()}
        rules = {AuthzRuleKey(table_id, cls, net): self._rule_value(d, by_key)
                 for (cls, net), d in table.rules.items()}
        return ports, rules

    def _write(self, dst: IPAddress, uid: str, table: authz.CompiledTable, report: AuthzReport) -> None:
        current = self._in_force.get(dst)
        if current is not None and not current.deny_all and current.compiled == table:
            return
        try:
            if table.too_big:
                raise MapError(f"{table.too_big} entries: more than {authz.MAX_RULES_PER_TABLE} per pod")
            if (current is not None and not current.deny_all and current.compiled.policies == table.policies
                    and current.compiled.ports == table.ports):
                self._update_in_place(dst, current, table)
            else:
                self._switch(dst, current, table)
        except MapError as err:
            self._fail_closed(dst, uid, table, str(err), report)

    def _update_in_place(self, dst: IPAddress, current: _InForce, table: authz.CompiledTable) -> None:
        _, old_rules = self._entries(current.table_id, current.compiled)
        _, new_rules = self._entries(current.table_id, table)
        for key, value in new_rules.items():
            if old_rules.get(key) != value:
                self.maps.authz_rule.update(key, value)
        for key in old_rules.keys() - new_rules.keys():
            self.maps.authz_rule.delete(key)
        self._in_force[dst] = _InForce(current.table_id, table)

    def _switch(self, dst: IPAddress, current: Optional[_InForce], table: authz.CompiledTable) -> None:
        table_id = self._new_table_id()
        ports, rules = self._entries(table_id, table)
        try:
            if ports:
                self.maps.authz_port.update_batch(list(ports.items()))
            self.maps.authz_rule.update_batch(list(rules.items()))
        except MapError:
            self._delete_entries(ports, rules)
            raise
        self.maps.authz_dst.update(AuthzDstKey(dst), AuthzDstValue(table_id))
        self._in_force[dst] = _InForce(table_id, table)
        if current is not None:
            self._drop_table(current)
        log.info("event=authz_table_written dst=%s table=%d policies=%s rules=%d ports=%d", dst, table_id,
                 clip(",".join(p.key for p in table.policies)), len(rules), len(ports))

    def _fail_closed(self, dst: IPAddress, uid: str, table: authz.CompiledTable, why: str,
                     report: AuthzReport) -> None:
        self.unenforceable_total += 1
        enforcing = table.enforcing
        self.unenforceable[uid] = why
        effect = ("its new connections are refused (fail closed)" if enforcing
                  else "only dry-run policies apply: left open")
        log.error("event=authz_unenforceable workload=%s dst=%s reason=%r effect=%r", clip(uid), dst, why, effect)
        for policy in table.policies:
            self._problem(report, policy.key, f"not enforced for {uid} ({dst}): {why}; {effect}", uid)
        current = self._in_force.get(dst)
        if enforcing:
            self.maps.authz_dst.update(AuthzDstKey(dst), AuthzDstValue(0, deny_all=True))
            self._in_force[dst] = _InForce(0, table, deny_all=True)
            if current is not None and not current.deny_all:
                self._drop_table(current)

    def _remove(self, dst: IPAddress) -> None:
        current = self._in_force.pop(dst)
        self.maps.authz_dst.delete(AuthzDstKey(dst))
        if not current.deny_all:
            self._drop_table(current)
        log.info("event=authz_table_removed dst=%s", dst)

    def _remove_pinned(self, dst: IPAddress, table_id: int) -> None:
        """A destination a previous agent wrote that no longer has policies."""
        self.maps.authz_dst.delete(AuthzDstKey(dst))
        self._delete_table_entries(table_id)

    def _drop_table(self, old: _InForce) -> None:
        ports, rules = self._entries(old.table_id, old.compiled)
        self._delete_entries(ports, rules)

    def _delete_entries(self, ports: dict, rules: dict) -> None:
        for key in ports:
            self.maps.authz_port.delete(key)
        for key in rules:
            self.maps.authz_rule.delete(key)

    def _delete_table_entries(self, table_id: int) -> None:
        for key in [k for k in self.maps.authz_port.keys() if k.table == table_id]:
            self.maps.authz_port.delete(key)
        for key in [k for k in self.maps.authz_rule.keys() if k.table == table_id]:
            self.maps.authz_rule.delete(key)

    def _new_table_id(self) -> int:
        used = {f.table_id for f in self._in_force.values()} | set(self._stale_dsts.values())
        while self._next_table in used or self._next_table == 0:
            self._next_table = (self._next_table + 1) & 0xFFFFFFFF
        table_id = self._next_table
        self._next_table = (self._next_table + 1) & 0xFFFFFFFF
        return table_id

    # ----- reading back -------------------------------------------------------------------

    def connection_counts(self) -> list[tuple[str, str, bool, int]]:
        """(policy name, verdict, dry_run, connections) from the kernel's counters."""
        names = self.policy_names()
        for key, value in self.maps.authz_pol.items():
            names.setdefault(key.id, value.name)
        return [(names.get(k.policy, "") if k.policy else "", k.verdict.name.lower(), k.dry_run, v.count)
                for k, v in self.maps.authz_stats.items()]


class CombinedSink:
    """MapSync and AuthzSync behind the one sink the xDS client calls; their reports
    are merged (``problems_for`` of both)."""

    def __init__(self, *sinks) -> None:  # type: ignore[no-untyped-def]
        self.sinks = sinks

    def __call__(self, delta: CacheDelta) -> "CombinedReport":
        return CombinedReport([sink(delta) for sink in self.sinks])


@dataclass
class CombinedReport:
    reports: list

    def problems_for(self, names: Iterable[str]) -> list[str]:
        names = list(names)
        return [line for r in self.reports if r is not None for line in r.problems_for(names)]
