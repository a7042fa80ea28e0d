#!/usr/bin/env bash
# Builds actionlint (the GitHub Actions workflow linter; test/e2e/deploy.test.ts checks deploy/github-actions with it)
# from the Go module proxy into a cache directory, once, and prints the binary's path. Needs Go (as the control
# plane build does). Cold: ~40 s; warm: instant.
set -euo pipefail
VERSION=v1.7.7
DIR="${GWDOCTOR_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gwdoctor-tools}/actionlint-$VERSION"
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
if [ ! -x "$DIR/actionlint" ]; then
  command -v go >/dev/null 2>&1 || { echo "build-actionlint: Go is needed to build actionlint $VERSION" >&2; exit 1; }
  GOBIN="$DIR" GOFLAGS=-mod=mod go install "github.com/rhysd/actionlint/cmd/actionlint@$VERSION" >&2
fi
echo "$DIR/actionlint"
