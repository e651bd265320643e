"""The benchmark's server: Debian's nginx in a pod, one worker, keep-alive, a small fixed
body, no access log."""

from __future__ import annotations

from pathlib import Path

from kmeshctl.bench.procs import BenchProcess, pinned, require_tool, start_in_pod
from kmeshctl.podnet import Pod

SERVER_PORT = 80
BODY = "kmeshctl bench: a small fixed response body.\n"

CONFIG = """\
worker_processes 1;
master_process off;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {workdir}/nginx-body;
    proxy_temp_path {workdir}/nginx-proxy;
    fastcgi_temp_path {workdir}/nginx-fastcgi;
    uwsgi_temp_path {workdir}/nginx-uwsgi;
    scgi_temp_path {workdir}/nginx-scgi;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    tcp_nodelay on;
    server {{
        listen {port} reuseport backlog=4096;{extra_listen}
        location / {{
            default_type text/plain;
            return 200 "{body}";
        }}
    }}
}}
"""


def nginx_config(workdir: Path, port: int = SERVER_PORT,
                 proxy_protocol_port: int | None = None) -> str:
    """``proxy_protocol_port``: a second listener that reads a PROXY header first (nginx
    posing as a waypoint, for measuring the eBPF hook without a proxy in the way)."""
    body = BODY.replace("\n", "\\n")
    extra = (f"\n        listen {proxy_protocol_port} proxy_protocol reuseport backlog=4096;"
             if proxy_protocol_port else "")
    return CONFIG.format(workdir=workdir, port=port, body=body, extra_listen=extra)


def start_nginx(pod: Pod, workdir: Path, cpus: str, port: int = SERVER_PORT,
                proxy_protocol_port: int | None = None) -> BenchProcess:
    """nginx in ``pod`` pinned to ``cpus``; the caller waits for the port."""
    binary = require_tool("nginx", "nginx-light")
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(workdir, port, proxy_protocol_port))
    argv = pinned([binary, "-c", str(conf), "-e", str(workdir / "nginx-error.log")], cpus)
    return start_in_pod(pod, "nginx", argv, workdir / "nginx.log")
