#!/usr/bin/env bash
# Builds the e2e tier (a real single-node cluster: Kubernetes, etcd, CoreDNS, istiod,
# fortio, crictl) from the published Go modules at the versions pinned in
# scripts/tier/versions.env and the go.mod files beside this script, then its container
# images (scripts/tier/images.sh).
#
# Everything lands in $KMESHCTL_TIER_CACHE (default /var/cache/kmeshctl-tier), keyed by
# version and Go version: a second run builds nothing. The result is described in
# $CACHE/binaries.json ({name: {path, version}} plus the module source dirs the tier
# reads CRDs from) and $CACHE/images.json.
#
# Usage (root): bash scripts/tier/build.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
REPO=$PWD
TIER=$REPO/scripts/tier
CACHE=${KMESHCTL_TIER_CACHE:-/var/cache/kmeshctl-tier}
# shellcheck source=versions.env
source "$TIER/versions.env"

log() { printf 'tier: %s\n' "$*"; }

command -v go >/dev/null || { echo "tier: go is not installed; the e2e tier needs Go (1.24 or newer)" >&2; exit 1; }
GOVERSION=$(go env GOVERSION)
export CGO_ENABLED=0 GOFLAGS=-mod=mod
mkdir -p "$CACHE/build"
exec 9>"$CACHE/.build.lock"
flock 9

declare -A BIN_PATH BIN_VERSION

# build_into DIR NAME VERSION CMD...: runs CMD (which writes DIR/NAME) unless it exists.
build_into() {
  local dir=$1 name=$2 version=$3 start
  shift 3
  BIN_PATH[$name]=$dir/$name
  BIN_VERSION[$name]=$version
  if [ -x "$dir/$name" ]; then
    log "$name $version cached"
    return 0
  fi
  start=$(date +%s)
  log "$name $version building"
  mkdir -p "$dir.tmp"
  "$@"
  mkdir -p "$dir"
  mv -f "$dir.tmp/$name" "$dir/$name"
  rmdir "$dir.tmp" 2>/dev/null || true
  log "$name $version built in $(( $(date +%s) - start )) s"
}

module_version() {  # module_version DIR MODULE: the version DIR's go.mod requires
  (cd "$1" && go list -m -f '{{.Version}}' "$2")
}

k8s_ldflags() {
  local v=$1 minor
  minor=$(echo "$v" | cut -d. -f2)
  echo "-s -w -X k8s.io/component-base/version.gitVersion=$v -X k8s.io/component-base/version.gitMajor=1" \
       "-X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean" \
       "-X k8s.io/client-go/pkg/version.gitVersion=$v"
}

build_kubernetes() {
  local v dir c
  v=$(module_version "$TIER/kubernetes" k8s.io/kubernetes)
  dir=$CACHE/build/kubernetes-$v-$GOVERSION
  for c in kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubectl; do
    build_into "$dir" "$c" "$v" \
      bash -c "cd '$TIER/kubernetes' && go build -trimpath -ldflags '$(k8s_ldflags "$v")' -o '$dir.tmp/$c' k8s.io/kubernetes/cmd/$c"
  done
}

build_etcd() {
  local v dir
  v=$(module_version "$TIER/etcd" go.etcd.io/etcd/server/v3)
  dir=$CACHE/build/etcd-$v-$GOVERSION
  build_into "$dir" etcd "$v" \
    bash -c "cd '$TIER/etcd' && go build -trimpath -ldflags '-s -w' -o '$dir.tmp/etcd' ."
}

# go_install NAME MODULE_PATH VERSION PACKAGE [LDFLAGS]: `go install PACKAGE@VERSION`, as
# the project's own users install it.
go_install() {
  local name=$1 module=$2 version=$3 pkg=$4 ldflags=${5:-} dir
  dir=$CACHE/build/$(basename "$module")-$version-$GOVERSION
  build_into "$dir" "$name" "$version" \
    env GOBIN="$dir.tmp" GOFLAGS= go install -trimpath -ldflags "-s -w $ldflags" "$pkg@$version"
}

build_istio() {
  local rev=${ISTIO_MODULE_VERSION##*-}
  go_install pilot-discovery istio.io/istio "$ISTIO_MODULE_VERSION" istio.io/istio/pilot/cmd/pilot-discovery \
    "-X istio.io/istio/pkg/version.buildVersion=$ISTIO_RELEASE-${rev:0:12} -X istio.io/istio/pkg/version.buildGitRevision=$rev -X istio.io/istio/pkg/version.buildStatus=Clean"
  BIN_VERSION[pilot-discovery]="$ISTIO_RELEASE ($ISTIO_MODULE_VERSION)"
}

module_dir() {  # module_dir MODULE@VERSION: its source in the module cache (downloaded)
  GOFLAGS= go mod download -json "$1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])'
}

write_binaries_json() {
  local istio_dir gwapi_version gwapi_dir args=() name
  istio_dir=$(module_dir "istio.io/istio@$ISTIO_MODULE_VERSION")
  gwapi_version=$(awk '$1 == "sigs.k8s.io/gateway-api" {print $2; exit}' "$istio_dir/go.mod")
  gwapi_dir=$(module_dir "sigs.k8s.io/gateway-api@$gwapi_version")
  for name in "${!BIN_PATH[@]}"; do
    args+=("$name" "${BIN_PATH[$name]}" "${BIN_VERSION[$name]}")
  done
  python3 - "$CACHE/binaries.json" "$istio_dir" "$gwapi_dir" "$gwapi_version" "${args[@]}" <<'EOF'
import json, os, sys
out, istio_dir, gwapi_dir, gwapi_version, *rest = sys.argv[1:]
doc = {rest[i]: {"path": rest[i + 1], "version": rest[i + 2]} for i in range(0, len(rest), 3)}
doc["sources"] = {"istio": istio_dir, "gateway-api": gwapi_dir, "gateway-api-version": gwapi_version}
tmp = out + ".tmp"
with open(tmp, "w") as f:
    json.dump(doc, f, indent=2, sort_keys=True)
os.replace(tmp, out)
EOF
  log "wrote $CACHE/binaries.json"
}

start=$(date +%s)
build_kubernetes
build_etcd
build_istio
go_install coredns github.com/coredns/coredns "$COREDNS_VERSION" github.com/coredns/coredns
go_install fortio fortio.org/fortio "$FORTIO_VERSION" fortio.org/fortio
go_install crictl sigs.k8s.io/cri-tools "$CRI_TOOLS_VERSION" sigs.k8s.io/cri-tools/cmd/crictl
write_binaries_json
log "binaries ready in $(( $(date +%s) - start )) s"
flock -u 9
bash "$TIER/images.sh"
