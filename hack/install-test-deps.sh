#!/usr/bin/env bash
# System packages the tests talk to: Debian's docker-registry (distribution 2.8) for the OCI registry
# tests, which start it themselves on loopback. Without root or apt, say so: those tests then skip.
set -euo pipefail

if command -v docker-registry >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: docker-registry missing and cannot be installed here (needs root and apt-get); the OCI registry tests will skip" >&2
  exit 0
fi
# The package's service would listen on :5000 for the whole machine; the tests start their own, so
# keep invoke-rc.d from starting it (policy-rc.d exit 101: "action forbidden").
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
if [ -d /run/systemd/system ]; then
  systemctl disable --now docker-registry >/dev/null 2>&1 || true
fi
