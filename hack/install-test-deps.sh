#!/usr/bin/env bash
# System packages the tests talk to: Debian's docker-registry (distribution 2.8) for the OCI registry
# tests, which start it themselves on loopback, and prometheus (the analysis tests run it; the chart's alert
# rules are checked and unit-tested with its promtool). Without root or apt, say so: those tests then skip or fail.
set -euo pipefail

# command -> Debian package
declare -A PACKAGES=([docker-registry]=docker-registry [prometheus]=prometheus [promtool]=prometheus)
missing=()
for cmd in "${!PACKAGES[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PACKAGES[$cmd]}")
done
((${#missing[@]})) || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: ${missing[*]} missing and cannot be installed here (needs root and apt-get); the OCI registry tests will skip and the chart's promtool tests fail" >&2
  exit 0
fi
# The packages' services would listen on :5000 and :9090 for the whole machine; the tests start their
# own, so keep invoke-rc.d from starting them (policy-rc.d exit 101: "action forbidden").
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ -d /run/systemd/system ]; then
  systemctl disable --now docker-registry prometheus >/dev/null 2>&1 || true
fi
