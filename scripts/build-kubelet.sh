#!/usr/bin/env bash
# Build (or reuse) the lane's kubelet port-forward stand-in (test/controlplane/kubelet: the real kubelet's streaming
# code, k8s.io/cri-streaming at the control plane's Kubernetes release). Same cache root and scheme as
# scripts/build-controlplane.sh: $CACHE_ROOT/kubelet-<key>/bin/kubelet-portforward, <key> = sha256 of go.mod, go.sum,
# main.go, `go version` and RECIPE. The LAST line of stdout is the binary; progress on stderr. Warm: ~0.02 s.
# Cold (empty Go build cache, modules from the Go module proxy): ~1 min wall on 2 loaded cores (user ~28 s), 7 MB binary.
set -euo pipefail

RECIPE="gwdoctor-kubelet-recipe-1"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOD="$ROOT/test/controlplane/kubelet"
CACHE_ROOT="${GWDOCTOR_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gwdoctor-testbin}"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
unset GOOS GOARCH GOEXPERIMENT 2>/dev/null || true

log() { printf '[build-kubelet] %s\n' "$*" >&2; }

command -v go >/dev/null || { log "go not found in PATH"; exit 1; }
GOVERSION="$(go version)"

KEY="$( { cat "$MOD/go.mod" "$MOD/go.sum" "$MOD/main.go"; echo "$GOVERSION"; echo "$RECIPE"; } | sha256sum | cut -c1-64)"
DIR="$CACHE_ROOT/kubelet-$KEY"
BIN="$DIR/bin/kubelet-portforward"

if [ -x "$BIN" ]; then
  log "cache hit: $DIR"
  echo "$BIN"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock-kubelet-$KEY"
flock 9
if [ -x "$BIN" ]; then
  log "cache hit (built concurrently): $DIR"
  echo "$BIN"
  exit 0
fi

rm -rf "$CACHE_ROOT/.tmp-kubelet-$KEY".*
TMP="$(mktemp -d "$CACHE_ROOT/.tmp-kubelet-$KEY.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP
chmod 755 "$TMP"
mkdir -p "$TMP/bin"
START=$(date +%s)
STREAMING_VERSION="$(cd "$MOD" && go list -m -f '{{.Version}}' k8s.io/cri-streaming)"
log "key $KEY; building kubelet-portforward (k8s.io/cri-streaming $STREAMING_VERSION) with $GOVERSION"
(cd "$MOD" && go mod download)
(cd "$MOD" && go build -p 2 -trimpath -ldflags "-s -w" -o "$TMP/bin/kubelet-portforward" .) >&2
cat >"$TMP/versions.env" <<EOV
CRI_STREAMING_VERSION=$STREAMING_VERSION
GO_VERSION="$GOVERSION"
BUILD_SECONDS=$(( $(date +%s) - START ))
EOV
rm -rf "$DIR"
mv -T "$TMP" "$DIR"
trap - EXIT
log "built in $(( $(date +%s) - START ))s: $DIR"
echo "$BIN"
