#!/usr/bin/env bash
# Builds the container images of the e2e tier here, with no registry: buildah (vfs
# storage, chroot isolation) from a debootstrap'ed Debian 12 base, each image exported as
# an OCI archive that `ctr -n k8s.io images import FILE` loads into containerd.
#
#   pause          registry.k8s.io/pause:3.10             our scripts/tier/pause.c, static
#   fortio         docker.io/fortio/fortio:VERSION         the fortio binary (binaries.json)
#   netutils       docker.io/hwchiu/netutils:latest        curl, iproute2, ping, dig, nc
#   coredns        registry.k8s.io/coredns/coredns:VERSION the coredns binary
#   istiod         docker.io/istio/pilot:VERSION           the pilot-discovery binary
#   kmeshctl-node  docker.io/kmeshctl/kmeshctl-node:VERSION-KEY (and :VERSION), ./Dockerfile
#   kmeshctl-waypoint  docker.io/kmeshctl/kmeshctl-waypoint:VERSION-KEY (and :VERSION),
#                  ./Dockerfile.waypoint (kmeshctl and Envoy: `kmeshctl waypoint apply --image`)
#
# Everything is cached under $KMESHCTL_TIER_CACHE (default /var/cache/kmeshctl-tier):
# rootfs/ (the debootstrap tarball), containers/ (buildah's storage and configs: nothing
# goes to /var/lib/containers or /etc/containers), images/NAME-KEY.tar (the archives;
# KEY is the first 16 hex of the sha256 of everything that goes into the image, and an
# image whose archive exists is not built again). The result is $CACHE/images.json:
# {name: {ref, refs, archive, key}}. Binaries come from $CACHE/binaries.json
# (scripts/tier/build.sh); an image whose binary is missing is skipped, with a line
# saying so.
#
# Usage (root, from anywhere): bash scripts/tier/images.sh [--verify]
#   --verify   also import every archive into a throwaway containerd (under /tmp) and
#              run `curl --version` in the netutils image with ctr/runc, then clean up.
set -euo pipefail

TIER=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$TIER/../.." && pwd)
CACHE=${KMESHCTL_TIER_CACHE:-/var/cache/kmeshctl-tier}
VERIFY=0
for arg in "$@"; do
  case $arg in
    --verify) VERIFY=1 ;;
    -h|--help) sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "images: unknown argument: $arg" >&2; exit 2 ;;
  esac
done

# What this script needs from apt (installed only when missing).
APT_PACKAGES=(buildah debootstrap gcc libc6-dev python3 tar)
VERIFY_APT_PACKAGES=(containerd runc)

SUITE=bookworm
VARIANT=minbase
BASE_REF=docker.io/library/debian:12-slim
BASE_TAR=$CACHE/rootfs/debian-$SUITE-$VARIANT.tar
PAUSE_REF=registry.k8s.io/pause:3.10
# The examples ask for hwchiu/netutils:latest with imagePullPolicy IfNotPresent: the tier's own build
# stands under that name so they apply unchanged.
NETUTILS_REF=docker.io/hwchiu/netutils:latest
KEY_LABEL=io.kmeshctl.tier.key

log() { printf 'images: %s\n' "$*"; }
die() { printf 'images: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (buildah, debootstrap and chroot builds need it)"

# ---------------------------------------------------------------------------- setup

apt_ensure() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
  }
}
apt_ensure "${APT_PACKAGES[@]}"
[ "$VERIFY" = 1 ] && apt_ensure "${VERIFY_APT_PACKAGES[@]}"

mkdir -p "$CACHE/containers/storage" "$CACHE/containers/run" "$CACHE/rootfs" "$CACHE/images" "$CACHE/tmp"
exec 8>"$CACHE/.images.lock"
flock 8

# buildah's configuration, all of it ours: no /etc/containers file is read or needed.
CONF=$CACHE/containers
cat >"$CONF/policy.json.tmp" <<'EOF'
{"default": [{"type": "insecureAcceptAnything"}]}
EOF
cat >"$CONF/registries.conf.tmp" <<'EOF'
# The e2e tier's images are all local (scripts/tier/images.sh): nothing is pulled.
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
EOF
cat >"$CONF/storage.conf.tmp" <<EOF
[storage]
driver = "vfs"
runroot = "$CONF/run"
graphroot = "$CONF/storage"
EOF
cat >"$CONF/containers.conf.tmp" <<'EOF'
[engine]
events_logger = "none"
EOF
for f in policy.json registries.conf storage.conf containers.conf; do mv -f "$CONF/$f.tmp" "$CONF/$f"; done
export CONTAINERS_REGISTRIES_CONF=$CONF/registries.conf
export REGISTRIES_CONFIG_PATH=$CONF/registries.conf
export CONTAINERS_STORAGE_CONF=$CONF/storage.conf
export CONTAINERS_CONF=$CONF/containers.conf
export BUILDAH_ISOLATION=chroot
export TMPDIR=$CACHE/tmp  # big layer tarballs go here, not to a small /tmp
POLICY=(--signature-policy "$CONF/policy.json")

b() { buildah --root "$CONF/storage" --runroot "$CONF/run" --storage-driver vfs "$@"; }

# containers/image keeps a blob-info cache at /var/lib/containers/cache whatever the
# storage root: when this run is what created it, it goes at exit.
[ -e /var/lib/containers ] && VARLIB_CREATED=0 || VARLIB_CREATED=1
WORK=$(mktemp -d "$CACHE/tmp/images.XXXXXX")
CONTAINERS=()
cleanup() {
  local c
  for c in "${CONTAINERS[@]}"; do b rm "$c" >/dev/null 2>&1 || true; done
  if [ -n "${ROOTFS_BUILD:-}" ] && [ -d "$ROOTFS_BUILD" ]; then
    umount -R "$ROOTFS_BUILD/proc" "$ROOTFS_BUILD/sys" "$ROOTFS_BUILD/dev/pts" 2>/dev/null || true
    grep -q "^$ROOTFS_BUILD/" <<<"$(findmnt -rn -o TARGET)" || rm -rf "$ROOTFS_BUILD"
  fi
  rm -rf "$WORK"
  [ "$VARLIB_CREATED" = 0 ] || rm -rf /var/lib/containers
}
trap cleanup EXIT

new_container() {  # new_container IMAGE: prints the working container's name
  local c
  c=$(b from --pull=never "${POLICY[@]}" "$1")
  CONTAINERS+=("$c")
  echo "$c"
}

# key STRING...: first 16 hex of sha256 over the arguments (files: their path and content)
key() {
  local a
  for a in "$@"; do
    if [ -f "$a" ]; then printf 'file %s %s\n' "${a##*/}" "$(sha256sum <"$a" | cut -d' ' -f1)"
    else printf 'text %s\n' "$a"; fi
  done | sha256sum | cut -c1-16
}

image_key() {  # image_key IMAGE: the key label an image was built with (empty if none)
  b inspect --type image --format "{{index .OCIv1.Config.Labels \"$KEY_LABEL\"}}" "$1" 2>/dev/null || true
}

# export_archive IMAGE ARCHIVE REF...: an OCI archive holding IMAGE under every REF.
# (`buildah push IMAGE oci-archive:FILE:REF` names one ref; several go through an OCI
# layout directory, which is what an oci-archive is, tarred.)
export_archive() {
  local image=$1 archive=$2 layout ref
  shift 2
  layout=$WORK/layout-$RANDOM
  if [ $# -eq 1 ]; then
    rm -f "$archive.tmp"
    b push -q "${POLICY[@]}" "$image" "oci-archive:$archive.tmp:$1" >/dev/null
  else
    for ref in "$@"; do
      b push -q "${POLICY[@]}" "$image" "oci:$layout:$ref" >/dev/null
    done
    tar -C "$layout" -cf "$archive.tmp" .
    rm -rf "$layout"
  fi
  mv -f "$archive.tmp" "$archive"
}

declare -A OUT_REF OUT_REFS OUT_ARCHIVE OUT_KEY
ORDER=()

# image NAME KEY BUILD_FN REF...: runs BUILD_FN (which commits image REF[0] with the key
# label) unless $CACHE/images/NAME-KEY.tar exists, exports it, records it, prunes the
# archives of NAME's older keys.
image() {
  local name=$1 k=$2 fn=$3 archive start built old
  shift 3
  archive=$CACHE/images/$name-$k.tar
  OUT_REF[$name]=$1 OUT_REFS[$name]="$*" OUT_ARCHIVE[$name]=$archive OUT_KEY[$name]=$k
  ORDER+=("$name")
  if [ -s "$archive" ]; then
    log "$name cached ($1)"
    return 0
  fi
  start=$(date +%s)
  if [ "$(image_key "$1")" != "$k" ]; then
    "$fn" "$1" "$k"
  fi
  built=$(date +%s)
  export_archive "$1" "$archive" "$@"
  for old in "$CACHE/images/$name"-*.tar; do
    [ "$old" = "$archive" ] || rm -f "$old"
  done
  log "$name built in $(( $(date +%s) - start )) s ($1; build $(( built - start )) s, export $(( $(date +%s) - built )) s; $(du -m "$archive" | cut -f1) MB)"
}

commit() {  # commit CONTAINER REF KEY
  b config --label "$KEY_LABEL=$3" --os linux --arch amd64 "$1"
  b commit -q --rm "${POLICY[@]}" "$1" "$2" >/dev/null
  CONTAINERS=("${CONTAINERS[@]/$1}")
}

# ------------------------------------------------------------------- inputs: binaries

declare -A BIN_PATH BIN_VERSION
if [ -f "$CACHE/binaries.json" ]; then
  while IFS=$'\t' read -r n p v; do
    [ -x "$p" ] || continue
    BIN_PATH[$n]=$p BIN_VERSION[$n]=$v
  done < <(python3 - "$CACHE/binaries.json" <<'EOF'
import json, sys
for name, e in json.load(open(sys.argv[1])).items():
    if isinstance(e, dict) and "path" in e and "version" in e:
        print(f"{name}\t{e['path']}\t{e['version']}")
EOF
)
else
  log "no $CACHE/binaries.json (scripts/tier/build.sh writes it)"
fi

tag_of() {  # tag_of VERSION [keep-v]: "1.30 (v0.0.0-...)" -> 1.30; v1.2.3 -> 1.2.3
  local t=${1%% *}
  if [ "${2:-}" = keep-v ]; then [[ $t == v* ]] || t=v$t; else t=${t#v}; fi
  echo "$t"
}

# ----------------------------------------------------------------- the Debian base

mirror() {  # the Debian mirror apt already uses for $SUITE (deb822 or one-line sources)
  python3 - "$SUITE" <<'EOF'
import glob, sys
suite = sys.argv[1]
files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")
                                          + glob.glob("/etc/apt/sources.list.d/*.sources"))
for path in files:
    try:
        text = open(path).read()
    except OSError:
        continue
    if path.endswith(".sources"):
        for stanza in text.split("\n\n"):
            f = {}
            for line in stanza.splitlines():
                if ":" in line and not line.startswith(("#", " ")):
                    k, v = line.split(":", 1)
                    f[k.strip().lower()] = v.split()
            if "deb" in f.get("types", []) and suite in f.get("suites", []) and f.get("enabled", ["yes"]) != ["no"]:
                print(f["uris"][0]); sys.exit(0)
    else:
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if not line.startswith("deb "):
                continue
            rest = line[4:].strip()
            if rest.startswith("["):  # deb [options] uri suite components
                rest = rest.split("]", 1)[1]
            w = rest.split()
            if len(w) >= 2 and w[1] == suite:
                print(w[0]); sys.exit(0)
sys.exit(1)
EOF
}

# Debian's official slim images: no docs/man/locales installed, no apt caches or lists.
slim_rootfs() {
  local root=$1 uri=$2
  mkdir -p "$root/etc/dpkg/dpkg.cfg.d" "$root/etc/apt/apt.conf.d"
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# slim: no documentation, manual pages or translations (copyrights are kept)
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-clean" <<'EOF'
// slim: drop downloaded packages after installing them, keep no package caches
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-no-languages" <<'EOF'
Acquire::Languages "none";
EOF
  cat >"$root/etc/apt/apt.conf.d/docker-autoremove-suggests" <<'EOF'
Apt::AutoRemove::SuggestsImportant "false";
EOF
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $uri
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${uri%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/locale/"* \
         "$root/var/lib/apt/lists/"* "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb \
         "$root/var/cache/debconf/"*-old "$root/var/lib/dpkg/"*-old "$root/var/log/"* "$root/tmp/"* \
         "$root/debootstrap" "$root/etc/hostname" "$root/etc/resolv.conf"
  mkdir -p "$root/var/lib/apt/lists/partial"
  : >"$root/etc/machine-id"
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
}

build_base_tar() {
  local uri=$1 start
  start=$(date +%s)
  ROOTFS_BUILD=$CACHE/rootfs/build-$SUITE-$VARIANT
  rm -rf "$ROOTFS_BUILD"
  debootstrap --variant="$VARIANT" "$SUITE" "$ROOTFS_BUILD" "$uri" >"$WORK/debootstrap.log" 2>&1 || {
    tail -20 "$WORK/debootstrap.log" >&2; die "debootstrap $SUITE from $uri failed"
  }
  umount -R "$ROOTFS_BUILD/proc" "$ROOTFS_BUILD/sys" 2>/dev/null || true
  slim_rootfs "$ROOTFS_BUILD" "$uri"
  tar --numeric-owner --xattrs -C "$ROOTFS_BUILD" -cf "$BASE_TAR.tmp" .
  mv -f "$BASE_TAR.tmp" "$BASE_TAR"
  rm -rf "$ROOTFS_BUILD"
  ROOTFS_BUILD=
  log "debian-$SUITE-$VARIANT rootfs from $uri in $(( $(date +%s) - start )) s ($(du -m "$BASE_TAR" | cut -f1) MB)"
}

build_base_image() {  # the rootfs tarball as $BASE_REF (what `FROM debian:12-slim` finds)
  local c mnt
  c=$(new_container scratch)
  mnt=$(b mount "$c")
  tar --numeric-owner --xattrs -C "$mnt" -xpf "$BASE_TAR"
  b umount "$c" >/dev/null
  b config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd '["bash"]' "$c"
  commit "$c" "$BASE_REF" "$1"
  log "base $BASE_REF imported"
}

MIRROR=$(mirror) || die "no '$SUITE' Debian mirror in /etc/apt/sources.list{,.d}"
[ -s "$BASE_TAR" ] || build_base_tar "$MIRROR"
BASE_KEY=$(key "$SUITE" "$VARIANT" "$BASE_TAR" "$(declare -f slim_rootfs build_base_image)")
[ "$(image_key "$BASE_REF")" = "$BASE_KEY" ] || build_base_image "$BASE_KEY"

# ------------------------------------------------------------------------- images

build_pause() {
  local c
  gcc -static -Os -s -Wall -o "$WORK/pause" "$TIER/pause.c"
  c=$(new_container scratch)
  b copy --chmod 0755 "$c" "$WORK/pause" /pause >/dev/null
  b config --entrypoint '["/pause"]' --cmd '' --user 65535:65535 "$c"
  commit "$c" "$1" "$2"
}

build_fortio() {  # like upstream's: ENTRYPOINT /usr/bin/fortio, CMD server -config-dir /etc/fortio
  local c mnt
  c=$(new_container scratch)
  mnt=$(b mount "$c")
  install -d -m 1777 "$mnt/tmp"
  install -d -m 0755 "$mnt/etc/fortio" "$mnt/usr/bin"
  install -m 0755 "${BIN_PATH[fortio]}" "$mnt/usr/bin/fortio"
  b umount "$c" >/dev/null
  b config --entrypoint '["/usr/bin/fortio"]' --cmd '["server","-config-dir","/etc/fortio"]' \
    --port 8078 --port 8079 --port 8080 --port 8081 --workingdir / "$c"
  commit "$c" "$1" "$2"
}

build_netutils() {
  local c
  c=$(new_container "$BASE_REF")
  b run --network host "$c" -- sh -c 'apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         curl iproute2 iputils-ping dnsutils netcat-openbsd ca-certificates >/dev/null \
    && rm -rf /var/lib/apt/lists/*' >"$WORK/netutils.log" 2>&1 || { cat "$WORK/netutils.log" >&2; return 1; }
  b config --entrypoint '' --cmd '["sleep","infinity"]' "$c"
  commit "$c" "$1" "$2"
}

build_coredns() {  # like upstream's: /coredns, port 53
  local c
  c=$(new_container scratch)
  b copy --chmod 0755 "$c" "${BIN_PATH[coredns]}" /coredns >/dev/null
  b config --entrypoint '["/coredns"]' --cmd '' --port 53 --port 53/udp "$c"
  commit "$c" "$1" "$2"
}

build_istiod() {  # like upstream's pilot image: the binary on the Debian base, user 1337
  local c
  c=$(new_container "$BASE_REF")
  b copy --chmod 0755 "$c" "${BIN_PATH[pilot-discovery]}" /usr/local/bin/pilot-discovery >/dev/null
  b config --entrypoint '["/usr/local/bin/pilot-discovery"]' --cmd '' --user 1337:1337 "$c"
  commit "$c" "$1" "$2"
}

node_files() {  # what the node image is built from, one path a line, relative to the repo
  (cd "$REPO"
   {
     printf '%s\n' Dockerfile pyproject.toml README.md
     if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
       git ls-files --cached --others --exclude-standard -- kmeshctl templates bpf examples
     else
       find kmeshctl templates bpf examples -type f
     fi
   } | grep -v -e '__pycache__' -e '\.pyc$' | sort -u | while read -r f; do [ -f "$f" ] && echo "$f"; done)
}

# pip inside a build trusts what the host trusts (this machine's egress may present its
# own CA): the host's CA bundle and a pip.conf naming it are bind-mounted read-only at
# /etc/xdg/pip, where pip looks for a site-wide config, for the RUN steps only.
build_pip_config() {
  local d=$CONF/build-xdg/pip
  mkdir -p "$d"
  cp -f /etc/ssl/certs/ca-certificates.crt "$d/host-ca.crt"
  {
    printf '[global]\ncert = /etc/xdg/pip/host-ca.crt\ntimeout = 120\n'
    [ -z "${PIP_INDEX_URL:-}" ] || printf 'index-url = %s\n' "$PIP_INDEX_URL"
  } >"$d/pip.conf"
  echo "$CONF/build-xdg"
}

build_node() {  # buildah bud of ./Dockerfile, its layers cached in the vfs storage
  local ref=$1 k=$2 xdg
  xdg=$(build_pip_config)
  (cd "$REPO" && b bud --layers --force-rm --pull=never "${POLICY[@]}" --isolation chroot --network host \
     -v "$xdg:/etc/xdg:ro" -f Dockerfile -t "$ref" . ) >"$CACHE/tmp/kmeshctl-node.log" 2>&1 || {
    tail -40 "$CACHE/tmp/kmeshctl-node.log" >&2; return 1
  }
  b tag "$ref" "$NODE_PLAIN_REF"
}

prune_node() {  # older kmeshctl-node images and the build cache only they used
  local id i
  b images --format '{{.Name}}:{{.Tag}} {{.ID}}' | awk -v keep="$1" '$1 ~ /kmeshctl-node:/ && $1 != keep && $1 !~ /:[^-]*$/ {print $1}' |
    while read -r id; do b rmi "$id" >/dev/null 2>&1 || true; done
  for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
    [ -n "$(b images --filter dangling=true -q 2>/dev/null)" ] || break
    b rmi --prune >/dev/null 2>&1 || break
  done
}

start_all=$(date +%s)

image pause "$(key "$BASE_KEY" "$TIER/pause.c" "$(gcc --version | head -1)" "$(declare -f build_pause)")" \
  build_pause "$PAUSE_REF"

if [ -n "${BIN_PATH[fortio]:-}" ]; then
  image fortio "$(key "${BIN_PATH[fortio]}" "$(declare -f build_fortio)")" build_fortio \
    "docker.io/fortio/fortio:$(tag_of "${BIN_VERSION[fortio]}")"
else
  log "fortio skipped: no fortio binary in $CACHE/binaries.json"
fi

image netutils "$(key "$BASE_KEY" "$NETUTILS_REF" "$(declare -f build_netutils)")" build_netutils "$NETUTILS_REF"

if [ -n "${BIN_PATH[coredns]:-}" ]; then
  image coredns "$(key "${BIN_PATH[coredns]}" "$(declare -f build_coredns)")" build_coredns \
    "registry.k8s.io/coredns/coredns:$(tag_of "${BIN_VERSION[coredns]}" keep-v)"
else
  log "coredns skipped: no coredns binary in $CACHE/binaries.json"
fi

if [ -n "${BIN_PATH[pilot-discovery]:-}" ]; then
  image istiod "$(key "$BASE_KEY" "${BIN_PATH[pilot-discovery]}" "$(declare -f build_istiod)")" build_istiod \
    "docker.io/istio/pilot:$(tag_of "${BIN_VERSION[pilot-discovery]}")"
else
  log "istiod skipped: no pilot-discovery binary in $CACHE/binaries.json"
fi

NODE_VERSION=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["project"]["version"])' "$REPO/pyproject.toml")
mapfile -t NODE_FILES < <(node_files)
NODE_KEY=$( (cd "$REPO" && key "$BASE_KEY" "$(declare -f build_node)" "${NODE_FILES[@]}" \
             "$(printf '%s\n' "${NODE_FILES[@]}")") )
NODE_REF=docker.io/kmeshctl/kmeshctl-node:$NODE_VERSION-$NODE_KEY
NODE_PLAIN_REF=docker.io/kmeshctl/kmeshctl-node:$NODE_VERSION
image kmeshctl-node "$NODE_KEY" build_node "$NODE_REF" "$NODE_PLAIN_REF"
prune_node "$NODE_REF"

build_waypoint() {  # buildah bud of ./Dockerfile.waypoint, its layers cached like the node's
  local ref=$1 k=$2 xdg
  xdg=$(build_pip_config)
  (cd "$REPO" && b bud --layers --force-rm --pull=never "${POLICY[@]}" --isolation chroot --network host \
     -v "$xdg:/etc/xdg:ro" -f Dockerfile.waypoint -t "$ref" . ) >"$CACHE/tmp/kmeshctl-waypoint.log" 2>&1 || {
    tail -40 "$CACHE/tmp/kmeshctl-waypoint.log" >&2; return 1
  }
  b tag "$ref" "$WAYPOINT_PLAIN_REF"
}

WAYPOINT_KEY=$( (cd "$REPO" && key "$BASE_KEY" "$(declare -f build_waypoint)" Dockerfile.waypoint "${NODE_FILES[@]}" \
                 "$(printf '%s\n' "${NODE_FILES[@]}")") )
WAYPOINT_REF=docker.io/kmeshctl/kmeshctl-waypoint:$NODE_VERSION-$WAYPOINT_KEY
WAYPOINT_PLAIN_REF=docker.io/kmeshctl/kmeshctl-waypoint:$NODE_VERSION
image kmeshctl-waypoint "$WAYPOINT_KEY" build_waypoint "$WAYPOINT_REF" "$WAYPOINT_PLAIN_REF"
b images --format '{{.Name}}:{{.Tag}}' | awk -v keep="$WAYPOINT_REF" '$1 ~ /kmeshctl-waypoint:/ && $1 != keep && $1 !~ /:[^-]*$/' |
  while read -r old_ref; do b rmi "$old_ref" >/dev/null 2>&1 || true; done

# ------------------------------------------------------------------- images.json

args=()
for n in "${ORDER[@]}"; do args+=("$n" "${OUT_REFS[$n]}" "${OUT_ARCHIVE[$n]}" "${OUT_KEY[$n]}"); done
python3 - "$CACHE/images.json" "${args[@]}" <<'EOF'
import json, os, sys
out, *rest = sys.argv[1:]
doc = {}
for i in range(0, len(rest), 4):
    name, refs, archive, key = rest[i:i + 4]
    refs = refs.split()
    doc[name] = {"ref": refs[0], "refs": refs, "archive": archive, "key": key}
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=2, sort_keys=True)
    f.write("\n")
os.replace(tmp, out)
EOF
log "wrote $CACHE/images.json (${#ORDER[@]} images) in $(( $(date +%s) - start_all )) s"

# ----------------------------------------------------------------------- --verify

verify() {  # a throwaway containerd under /tmp: import every archive, run netutils' curl
  local d ctrd_pid=0 n ref listed
  d=$(mktemp -d /tmp/kmeshctl-tier-ctrd.XXXXXX)
  cat >"$d/config.toml" <<EOF
version = 2
root = "$d/root"
state = "$d/state"
[grpc]
  address = "$d/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  disable_cgroup = false
EOF
  containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
  ctrd_pid=$!
  # shellcheck disable=SC2064
  trap "verify_cleanup '$d' $ctrd_pid; cleanup" EXIT
  for _ in $(seq 50); do [ -S "$d/containerd.sock" ] && break; sleep 0.2; done
  local ctr=(ctr --address "$d/containerd.sock" -n k8s.io)
  for n in "${ORDER[@]}"; do
    "${ctr[@]}" images import "${OUT_ARCHIVE[$n]}" >/dev/null
    listed=$("${ctr[@]}" images ls -q)
    for ref in ${OUT_REFS[$n]}; do
      grep -qx "$ref" <<<"$listed" || die "verify: $ref not listed after importing ${OUT_ARCHIVE[$n]}"
    done
    log "verify: $n imports as ${OUT_REFS[$n]}"
  done
  "${ctr[@]}" run --rm --net-host "$NETUTILS_REF" kmeshctl-tier-verify curl --version | head -1 |
    sed 's/^/images: verify: netutils: /'
  "${ctr[@]}" run --rm --net-host "${OUT_REF[kmeshctl-node]}" kmeshctl-tier-verify-node kmeshctl version |
    sed 's/^/images: verify: kmeshctl-node: /'
  verify_cleanup "$d" "$ctrd_pid"
  trap cleanup EXIT
}

verify_cleanup() {
  local d=$1 pid=$2 m shims
  # shim processes of the throwaway containerd (by its socket, no other), containerd, mounts
  shims=$(pgrep -f "containerd-shim.*-address $d/containerd.sock" || true)
  [ -z "$shims" ] || kill $shims 2>/dev/null || true
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for m in $(findmnt -rn -o TARGET | grep "^$d/" | sort -r || true); do
    umount "$m" 2>/dev/null || umount -l "$m" || true
  done
  rm -rf "$d"
}

[ "$VERIFY" = 1 ] && verify
exit 0
