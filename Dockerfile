# The node image the kmeshctl DaemonSet runs (`kmeshctl node run`).
#
#   docker build -t REGISTRY/kmeshctl-node:TAG .
#   docker push REGISTRY/kmeshctl-node:TAG
#   kmeshctl install --image REGISTRY/kmeshctl-node:TAG ...
#
# bcc compiles the data path at start against the host's kernel headers: the DaemonSet
# mounts the host's /lib/modules and /usr/src, so no headers are baked in here.
FROM debian:12-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip python3-bpfcc bpfcc-tools iproute2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/kmeshctl
COPY pyproject.toml README.md ./
COPY kmeshctl ./kmeshctl
COPY templates ./templates
COPY bpf ./bpf
COPY examples ./examples

# The system site packages make Debian's bcc (python3-bpfcc) importable in the venv.
RUN python3 -m venv --system-site-packages /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir . \
 && /opt/venv/bin/kmeshctl version

ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
ENTRYPOINT ["kmeshctl"]
CMD ["node", "run"]
