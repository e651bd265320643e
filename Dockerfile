# The node image the kmeshctl DaemonSet runs (`kmeshctl node run`).
#
#   docker build -t REGISTRY/kmeshctl-node:TAG .
#   docker push REGISTRY/kmeshctl-node:TAG
#   kmeshctl install --image REGISTRY/kmeshctl-node:TAG ...
#
# It holds the agent and what it needs, nothing else: kmeshctl without extras (no Envoy,
# matplotlib, kubernetes-validate or grpcio-tools: those are the sandbox's, the
# benchmarks' and install's, see pyproject.toml), Debian's bcc, and the kernel headers bcc
# compiles our programs with. The programs use only the stable BPF uapi, so Debian 12's
# headers serve any kernel >= 5.10; the agent uses the host's headers instead when the
# node has them (/lib/modules/$(uname -r)/build), and these otherwise
# (kmeshctl.nodecheck.select_kernel_headers), so the image starts on nodes with none.
FROM debian:12-slim AS sources

# kmeshctl's sources, gathered in a stage of their own: the image takes them in one
# layer (a rebuild after a code change then writes one layer over the big ones, not five).
WORKDIR /opt/kmeshctl
COPY pyproject.toml README.md ./
COPY kmeshctl ./kmeshctl
COPY templates ./templates
COPY bpf ./bpf
COPY examples ./examples

FROM debian:12-slim AS headers

# Debian 12's kernel headers (the -common tree and the -amd64 generated files) merged into
# one tree, as BCC_KERNEL_SOURCE wants it, keeping only what a compile for x86 reads.
# The packages are unpacked, not installed: installing would pull in gcc and kbuild.
WORKDIR /tmp/headers
RUN apt-get update \
 && abi=$(apt-cache depends linux-headers-amd64 | sed -n 's/.*Depends: linux-headers-\(.*\)-amd64$/\1/p' | head -n1) \
 && test -n "$abi" \
 && apt-get download "linux-headers-$abi-common" "linux-headers-$abi-amd64" \
 && for deb in ./*.deb; do dpkg-deb -x "$deb" root; done \
 && mkdir -p /opt/kernel-headers/arch \
 && cp -a "root/usr/src/linux-headers-$abi-common/include" /opt/kernel-headers/ \
 && cp -a "root/usr/src/linux-headers-$abi-common/arch/x86" /opt/kernel-headers/arch/ \
 && cp -a "root/usr/src/linux-headers-$abi-amd64/include/." /opt/kernel-headers/include/ \
 && cp -a "root/usr/src/linux-headers-$abi-amd64/arch/x86/include/." /opt/kernel-headers/arch/x86/include/ \
 && cp -a "root/usr/src/linux-headers-$abi-amd64/.config" "root/usr/src/linux-headers-$abi-amd64/Makefile" /opt/kernel-headers/ \
 && rm -rf /opt/kernel-headers/include/config /opt/kernel-headers/arch/x86/boot /opt/kernel-headers/arch/x86/tools \
 && echo "$abi" >/opt/kernel-headers/DEBIAN_ABI \
 && test -f /opt/kernel-headers/include/generated/autoconf.h \
 && rm -rf /tmp/headers /var/lib/apt/lists/*

FROM debian:12-slim

# python3-bpfcc alone (not bpfcc-tools: bcc's tracing scripts are not used).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      python3 python3-venv python3-bpfcc ca-certificates \
 && rm -rf /var/lib/apt/lists/*

COPY --from=headers /opt/kernel-headers /opt/kernel-headers

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
 && /opt/venv/bin/kmeshctl version \
 && /opt/venv/bin/kmeshctl node run --help >/dev/null

# KMESHCTL_KERNEL_HEADERS: where the bundled headers are (used only when the host has none).
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 KMESHCTL_KERNEL_HEADERS=/opt/kernel-headers
ENTRYPOINT ["kmeshctl"]
CMD ["node", "run"]
