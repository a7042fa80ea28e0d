#!/usr/bin/env bash
# Build (or reuse) the real Kubernetes test control plane for gwdoctor's integration tests:
# kube-apiserver + kube-controller-manager (k8s.io/kubernetes via test/controlplane/k8s),
# etcd (go.etcd.io/etcd/server/v3 via test/controlplane/etcd), and the Gateway API / Istio
# CRD manifests (module cache of test/controlplane/crds).
#
# Output layout:  $CACHE_ROOT/<key>/bin/{kube-apiserver,kube-controller-manager,etcd}
#                 $CACHE_ROOT/<key>/crds/{gateway-api,istio}/*.yaml
#                 $CACHE_ROOT/<key>/versions.env
# <key> = sha256 of the wrapper go.mod/go.sum files + `go version` + RECIPE below.
# The LAST line of stdout is the bin dir:  BIN=$(scripts/build-controlplane.sh | tail -1)
# All progress goes to stderr. A warm cache returns immediately.
set -euo pipefail

# Bump when the build recipe (ldflags, file layout) changes, to invalidate old caches.
RECIPE="gwdoctor-controlplane-recipe-1"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CP="$ROOT/test/controlplane"
CACHE_ROOT="${GWDOCTOR_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gwdoctor-testbin}"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
# Never auto-switch toolchains or silently bypass go.sum.
unset GOOS GOARCH GOEXPERIMENT 2>/dev/null || true

log() { printf '[build-controlplane] %s\n' "$*" >&2; }

command -v go >/dev/null || { log "go not found in PATH"; exit 1; }
GOVERSION="$(go version)"

KEY="$( { for m in k8s etcd crds; do cat "$CP/$m/go.mod" "$CP/$m/go.sum"; done
          echo "$GOVERSION"; echo "$RECIPE"; } | sha256sum | cut -c1-64)"
DIR="$CACHE_ROOT/$KEY"

complete() {
  [ -x "$1/bin/kube-apiserver" ] && [ -x "$1/bin/kube-controller-manager" ] && [ -x "$1/bin/etcd" ] &&
    [ -f "$1/crds/gateway-api/gateway.networking.k8s.io_gateways.yaml" ] &&
    [ -f "$1/crds/istio/customresourcedefinitions.gen.yaml" ]
}

if complete "$DIR"; then
  log "cache hit: $DIR"
  echo "$DIR/bin"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
# Serialize concurrent builders of the same key; the loser reuses the winner's result.
exec 9>"$CACHE_ROOT/.lock-$KEY"
flock 9
if complete "$DIR"; then
  log "cache hit (built concurrently): $DIR"
  echo "$DIR/bin"
  exit 0
fi

# We hold the lock, so any temp dir for this key is a leftover of a killed build.
rm -rf "$CACHE_ROOT/.tmp-$KEY".*
TMP="$(mktemp -d "$CACHE_ROOT/.tmp-$KEY.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP
chmod 755 "$TMP"
mkdir -p "$TMP/bin" "$TMP/crds/gateway-api" "$TMP/crds/istio"
START=$(date +%s)

modver() { (cd "$1" && go list -m -f '{{.Version}}' "$2"); }
K8S_VERSION="$(modver "$CP/k8s" k8s.io/kubernetes)"       # e.g. v1.37.2
ETCD_VERSION="$(modver "$CP/etcd" go.etcd.io/etcd/server/v3)"
GWAPI_VERSION="$(modver "$CP/crds" sigs.k8s.io/gateway-api)"
ISTIO_API_VERSION="$(modver "$CP/crds" istio.io/api)"
BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
MAJOR="${K8S_VERSION#v}"; MAJOR="${MAJOR%%.*}"
MINOR="${K8S_VERSION#v*.}"; MINOR="${MINOR%%.*}"

# /version must be honest. gitCommit is left empty: module zips carry no commit hash.
KLD=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  KLD+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$MAJOR -X $pkg.gitMinor=$MINOR"
  KLD+=" -X $pkg.gitCommit= -X $pkg.gitTreeState=clean -X $pkg.buildDate=$BUILD_DATE"
done

log "key $KEY; building k8s $K8S_VERSION, etcd $ETCD_VERSION with $GOVERSION (cold: ~7 min on 2 cores, ~5 GB of Go caches)"

log "go mod download (k8s, etcd, crds)"
for m in k8s etcd crds; do (cd "$CP/$m" && go mod download); done

log "building etcd $ETCD_VERSION"
(cd "$CP/etcd" && go build -p 2 -trimpath \
  -ldflags "-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=$ETCD_VERSION" \
  -o "$TMP/bin/etcd" go.etcd.io/etcd/server/v3) >&2

log "building kube-apiserver + kube-controller-manager $K8S_VERSION"
(cd "$CP/k8s" && go build -p 2 -trimpath -ldflags "-s -w$KLD" -o "$TMP/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager) >&2

log "copying CRDs (gateway-api $GWAPI_VERSION standard channel, istio.io/api $ISTIO_API_VERSION)"
moddir() { (cd "$CP/crds" && go list -m -f '{{.Dir}}' "$1"); }
GW_DIR="$(moddir sigs.k8s.io/gateway-api)"
IS_DIR="$(moddir istio.io/api)"
cp "$GW_DIR"/config/crd/standard/*.yaml "$TMP/crds/gateway-api/"
cp "$IS_DIR/kubernetes/customresourcedefinitions.gen.yaml" "$TMP/crds/istio/"
chmod -R u+w "$TMP/crds"

cat >"$TMP/versions.env" <<EOF
KUBE_VERSION=$K8S_VERSION
ETCD_VERSION=$ETCD_VERSION
GATEWAY_API_VERSION=$GWAPI_VERSION
ISTIO_API_VERSION=$ISTIO_API_VERSION
GO_VERSION="$GOVERSION"
BUILD_DATE=$BUILD_DATE
BUILD_SECONDS=$(( $(date +%s) - START ))
EOF

# Atomic publish: the key dir either does not exist or is complete.
rm -rf "$DIR"
mv -T "$TMP" "$DIR"
trap - EXIT
log "built in $(( $(date +%s) - START ))s: $DIR"
echo "$DIR/bin"
