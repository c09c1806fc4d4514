#!/usr/bin/env bash
# Builds the Argo Rollouts controller (a benchmark peer for bench/compare_argo.py; not run by CI) into
#   $SHIFTLANE_CACHE/bin/argo-rollouts-$ARGO_ROLLOUTS_VERSION/rollouts-controller
# with its CRDs beside it in crds/. Skips the build when the binary is there (delete the dir to rebuild).
#
# The module's go.mod has replace directives, which `go install module@version` refuses, so the build
# runs in a throw-away wrapper module that requires the controller module and takes over its replace
# block (read from the downloaded go.mod, so the pins always match the version built).
# Needs go and the Go module proxy; the module asks for a newer Go than may be installed, which
# GOTOOLCHAIN fetches from the proxy. 10-25 minutes on 2 busy cores with a cold build cache.
set -euo pipefail

VERSION="${ARGO_ROLLOUTS_VERSION:-v1.10.2}"
TOOLCHAIN="${ARGO_ROLLOUTS_GOTOOLCHAIN:-go1.26.10}" # what that version's go.mod asks for
CACHE="${SHIFTLANE_CACHE:-$HOME/.cache/shiftlane}"
OUT="$CACHE/bin/argo-rollouts-$VERSION"
MODULE=github.com/argoproj/argo-rollouts
PARALLEL="${ARGO_ROLLOUTS_BUILD_JOBS:-2}"

log() { printf '[argo-rollouts %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ -x "$OUT/rollouts-controller" && -d "$OUT/crds" ]]; then
  log "already built: $OUT"
  exit 0
fi
command -v go >/dev/null || die "go is required"
export GOTOOLCHAIN="$TOOLCHAIN" CGO_ENABLED=0 GOFLAGS=-mod=mod

start=$SECONDS
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

src="$(go mod download -json "$MODULE@$VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')"
[[ -n "$src" && -f "$src/go.mod" ]] || die "go mod download $MODULE@$VERSION failed"

go_version="$(sed -n 's/^go \([0-9.]*\)$/\1/p' "$src/go.mod")"
{
  printf 'module shiftlane.local/bench/argo-rollouts\n\ngo %s\n\nrequire %s %s\n\n' "$go_version" "$MODULE" "$VERSION"
  awk '/^replace \($/,/^\)$/' "$src/go.mod"
} >"$work/go.mod"

log "resolving $MODULE@$VERSION's dependencies"
(cd "$work" && go get "$MODULE/cmd/rollouts-controller@$VERSION") || die "resolving dependencies failed"

log "building rollouts-controller (go $go_version, -p $PARALLEL)"
mkdir -p "$OUT.tmp"
(cd "$work" && go build -p "$PARALLEL" -trimpath -buildvcs=false \
  -ldflags "-s -w -X $MODULE/utils/version.version=${VERSION#v}" \
  -o "$OUT.tmp/rollouts-controller" "$MODULE/cmd/rollouts-controller") || die "building failed"
mkdir -p "$OUT.tmp/crds"
cp "$src"/manifests/crds/*-crd.yaml "$OUT.tmp/crds/"
chmod -R u+w "$OUT.tmp"
rm -rf "$OUT"
mv "$OUT.tmp" "$OUT"
log "built in $((SECONDS - start))s: $(du -sh "$OUT" | cut -f1) in $OUT"
