"""The Python mirror of every BPF map struct (kmeshctl/maps.py) against the C headers of
bpf/, as the kernel's compiler lays them out: each mirrored field's offset and each
struct's size become _Static_asserts compiled by bcc's clang (alignchecker-style). A
mismatch fails the compile and names the field."""

from __future__ import annotations

import ctypes
import shutil
from pathlib import Path

import pytest

from kmeshctl import maps
from kmeshctl.node import loader

pytestmark = pytest.mark.root

# C struct name -> its ctypes mirror
MIRRORS = {
    "km_frontend_key": maps.CFrontendKey,
    "km_frontend_value": maps.CFrontendValue,
    "km_service_key": maps.CServiceKey,
    "km_service_value": maps.CServiceValue,
    "km_endpoint_key": maps.CEndpointKey,
    "km_endpoint_value": maps.CEndpointValue,
    "km_backend_key": maps.CBackendKey,
    "km_backend_value": maps.CBackendValue,
    "km_manage_key": maps.CManageKey,
    "km_manage_value": maps.CManageValue,
    "km_sock_tuple": maps.CSockTuple,
    "km_idreg_key": maps.CIdRegKey,
    "km_idreg_value": maps.CIdRegValue,
    "km_log_event": maps.CLogEvent,
    "km_authz_dst_key": maps.CAuthzDstKey,
    "km_authz_dst_value": maps.CAuthzDstValue,
    "km_authz_port_key": maps.CAuthzPortKey,
    "km_authz_port_value": maps.CAuthzPortValue,
    "km_authz_rule_key": maps.CAuthzRuleKey,
    "km_authz_rule_value": maps.CAuthzRuleValue,
    "km_authz_pol_key": maps.CAuthzPolKey,
    "km_authz_pol_value": maps.CAuthzPolValue,
    "km_authz_stat_key": maps.CAuthzStatKey,
    "km_authz_stat_value": maps.CAuthzStatValue,
}


def _asserts() -> str:
    lines = []
    for struct, mirror in MIRRORS.items():
        lines.append(f'_Static_assert(sizeof(struct {struct}) == {ctypes.sizeof(mirror)}, '
                     f'"sizeof {struct}");')
        for name, *_ in mirror._fields_:
            offset = getattr(mirror, name).offset
            lines.append(f'_Static_assert(__builtin_offsetof(struct {struct}, {name}) == {offset}, '
                         f'"{struct}.{name} at {offset}");')
    return "\n".join(lines)


def test_every_mirrored_field_is_where_the_c_struct_has_it(run_id: str) -> None:
    import bcc

    pin_dir = Path(f"/sys/fs/bpf/kmtest-{run_id}-layout")
    pin_dir.mkdir(exist_ok=True)
    source = loader.flatten_source() + "\n" + _asserts() + "\n"
    try:
        bpf = bcc.BPF(text=source.encode(), cflags=loader.cflags(pin_dir, enable_bpf_log=True))
        bpf.cleanup()
    finally:
        shutil.rmtree(pin_dir, ignore_errors=True)


def test_every_value_field_is_checked() -> None:
    """The new fields of issue 10 items 3-5 are among the checked ones."""
    checked = {(s, n) for s, m in MIRRORS.items() for n, *_ in m._fields_}
    for field in [("km_service_value", "waypoint_id"), ("km_endpoint_value", "target_port"),
                  ("km_backend_value", "addr4"), ("km_backend_value", "addr6"),
                  ("km_backend_value", "waypoint_id"), ("km_backend_value", "tunnel_port"),
                  ("km_backend_value", "tunnel_hdr"), ("km_backend_value", "flags")]:
        assert field in checked
    assert "km_sockdst" not in {s for s, _ in checked}  # kernel-only state, not mirrored
