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
        listen {port} reuseport backlog=4096;
        location / {{
            default_type text/plain;
            return 200 "{body}";
        }}
    }}
}}
"""


def nginx_config(workdir: Path, port: int = SERVER_PORT) -> str:
    body = BODY.replace("\n", "\\n")
    return CONFIG.format(workdir=workdir, port=port, body=body)


def start_nginx(pod: Pod, workdir: Path, cpus: str, port: int = SERVER_PORT) -> BenchProcess:
    """nginx in ``pod`` pinned to ``cpus``; the caller waits for the port."""
    binary = require_tool("nginx", "nginx-light")
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(workdir, port))
    argv = pinned([binary, "-c", str(conf), "-e", str(workdir / "nginx-error.log")], cpus)
    return start_in_pod(pod, "nginx", argv, workdir / "nginx.log")
