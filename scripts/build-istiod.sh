#!/usr/bin/env bash
# Build (or reuse) real istiod (`pilot-discovery` from istio.io/istio via test/controlplane/istio) for gwdoctor's
# integration tests, plus the files istiod reads when it runs out of cluster: the injection templates (kube-gateway,
# waypoint, ...) rendered from the istio-discovery chart in the same module, as istioctl would render them.
#
# Output layout:  $CACHE_ROOT/istiod-<key>/bin/pilot-discovery
#                 $CACHE_ROOT/istiod-<key>/var/lib/istio/inject/{config,values}   (ConfigMap istio-sidecar-injector)
#                 $CACHE_ROOT/istiod-<key>/mesh.default.yaml                      (ConfigMap istio, for reference)
#                 $CACHE_ROOT/istiod-<key>/versions.env
# <key> = sha256 of test/controlplane/istio/{go.mod,go.sum,render-injector/main.go} + `go version` + RECIPE below.
# Same cache root as scripts/build-controlplane.sh. The LAST line of stdout is the istiod dir:
#   ISTIOD=$(scripts/build-istiod.sh | tail -1); $ISTIOD/bin/pilot-discovery version
# All progress goes to stderr. A warm cache returns immediately.
set -euo pipefail

# Bump when the build recipe (ldflags, file layout) changes, to invalidate old caches.
RECIPE="gwdoctor-istiod-recipe-1"

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MOD="$ROOT/test/controlplane/istio"
CACHE_ROOT="${GWDOCTOR_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gwdoctor-testbin}"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
# Never auto-switch toolchains or silently bypass go.sum.
unset GOOS GOARCH GOEXPERIMENT 2>/dev/null || true

log() { printf '[build-istiod] %s\n' "$*" >&2; }

command -v go >/dev/null || { log "go not found in PATH"; exit 1; }
GOVERSION="$(go version)"

KEY="$( { cat "$MOD/go.mod" "$MOD/go.sum" "$MOD/render-injector/main.go"; echo "$GOVERSION"; echo "$RECIPE"; } |
        sha256sum | cut -c1-64)"
DIR="$CACHE_ROOT/istiod-$KEY"

complete() {
  [ -x "$1/bin/pilot-discovery" ] && [ -s "$1/var/lib/istio/inject/config" ] && [ -s "$1/var/lib/istio/inject/values" ] &&
    [ -f "$1/versions.env" ]
}

if complete "$DIR"; then
  log "cache hit: $DIR"
  echo "$DIR"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
# Serialize concurrent builders of the same key; the loser reuses the winner's result.
exec 9>"$CACHE_ROOT/.lock-istiod-$KEY"
flock 9
if complete "$DIR"; then
  log "cache hit (built concurrently): $DIR"
  echo "$DIR"
  exit 0
fi

# We hold the lock, so any temp dir for this key is a leftover of a killed build.
rm -rf "$CACHE_ROOT/.tmp-istiod-$KEY".*
TMP="$(mktemp -d "$CACHE_ROOT/.tmp-istiod-$KEY.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP
chmod 755 "$TMP"
mkdir -p "$TMP/bin" "$TMP/var/lib/istio/inject"
START=$(date +%s)

ISTIO_VERSION="$(cd "$MOD" && go list -m -f '{{.Version}}' istio.io/istio)"   # a pseudo-version: v0.0.0-<date>-<commit12>
ISTIO_COMMIT="${ISTIO_VERSION##*-}"
ISTIO_DIR_VERSION="$(cd "$MOD" && cat "$(go list -m -f '{{.Dir}}' istio.io/istio)/VERSION" 2>/dev/null || echo unknown)"
GWAPI_VERSION="$(cd "$MOD" && go list -m -f '{{.Version}}' sigs.k8s.io/gateway-api)"
ISTIO_API_VERSION="$(cd "$MOD" && go list -m -f '{{.Version}}' istio.io/api)"
BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"

# `pilot-discovery version` must be honest: the release line from the module's VERSION file plus the commit the
# pseudo-version names; "Modified" is never claimed (module zips are what the proxy serves).
V=istio.io/istio/pkg/version
LD="-s -w -X $V.buildVersion=$ISTIO_DIR_VERSION-dev+$ISTIO_COMMIT -X $V.buildGitRevision=$ISTIO_COMMIT"
LD+=" -X $V.buildStatus=Clean -X $V.buildTag=$ISTIO_VERSION -X $V.buildHub=none -X $V.buildOS=linux"

log "key $KEY; building istiod $ISTIO_VERSION ($ISTIO_DIR_VERSION line) with $GOVERSION (cold: ~5 min on 2 idle cores, ~2.5 GB of Go caches)"

log "go mod download"
(cd "$MOD" && go mod download)

log "building pilot-discovery + render-injector"
(cd "$MOD" && go build -p 2 -trimpath -ldflags "$LD" -o "$TMP/bin/pilot-discovery" istio.io/istio/pilot/cmd/pilot-discovery) >&2
(cd "$MOD" && go build -p 2 -trimpath -ldflags "-s -w" -o "$TMP/render-injector" ./render-injector) >&2

log "rendering the injection templates from the istio-discovery chart"
"$TMP/render-injector" "$TMP/var/lib/istio" >&2
mv "$TMP/var/lib/istio/mesh.default.yaml" "$TMP/mesh.default.yaml"
rm -f "$TMP/render-injector"
grep -q '^  kube-gateway: ' "$TMP/var/lib/istio/inject/config" || { log "rendered injector config has no kube-gateway template"; exit 1; }

cat >"$TMP/versions.env" <<EOF
ISTIO_VERSION=$ISTIO_VERSION
ISTIO_COMMIT=$ISTIO_COMMIT
ISTIO_RELEASE_LINE=$ISTIO_DIR_VERSION
ISTIOD_GATEWAY_API_VERSION=$GWAPI_VERSION
ISTIOD_ISTIO_API_VERSION=$ISTIO_API_VERSION
GO_VERSION="$GOVERSION"
BUILD_DATE=$BUILD_DATE
BUILD_SECONDS=$(( $(date +%s) - START ))
EOF

# Atomic publish: the key dir either does not exist or is complete.
rm -rf "$DIR"
mv -T "$TMP" "$DIR"
trap - EXIT
log "built in $(( $(date +%s) - START ))s: $DIR"
echo "$DIR"
