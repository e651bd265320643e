# The node image the kmeshctl DaemonSet runs (`kmeshctl node run`).
#
#   docker build -t REGISTRY/kmeshctl-node:TAG .
#   docker push REGISTRY/kmeshctl-node:TAG
#   kmeshctl install --image REGISTRY/kmeshctl-node:TAG ...
#
# bcc compiles the data path at start against the host's kernel headers: the DaemonSet
# mounts the host's /lib/modules and /usr/src, so no headers are baked in here.
FROM debian:12-slim AS sources

# kmeshctl's sources, gathered in a stage of their own: the image takes them in one
# layer (a rebuild after a code change then writes one layer over the big ones, not five).
WORKDIR /opt/kmeshctl
COPY pyproject.toml README.md ./
COPY kmeshctl ./kmeshctl
COPY templates ./templates
COPY bpf ./bpf
COPY examples ./examples

FROM debian:12-slim

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-pip python3-bpfcc bpfcc-tools iproute2 ca-certificates \
 && rm -rf /var/lib/apt/lists/*

# The dependencies (and the build backend) first, in a layer of their own: a change of
# kmeshctl's code reuses it, only a change of pyproject.toml installs them again.
# The system site packages make Debian's bcc (python3-bpfcc) importable in the venv.
WORKDIR /opt/kmeshctl
COPY pyproject.toml ./
RUN python3 -m venv --system-site-packages /opt/venv \
 && python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); \
print("\n".join(p["build-system"]["requires"] + p["project"]["dependencies"]))' >/tmp/requirements.txt \
 && /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

# kmeshctl itself: its dependencies are all there already, so nothing is downloaded.
COPY --from=sources /opt/kmeshctl ./
RUN /opt/venv/bin/pip install --no-cache-dir --no-build-isolation . \
 && /opt/venv/bin/kmeshctl version

ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
ENTRYPOINT ["kmeshctl"]
CMD ["node", "run"]
