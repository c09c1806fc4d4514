#!/usr/bin/env bash
# System packages the tests talk to, started by the tests themselves on loopback: Debian's
# docker-registry (distribution 2.8) for the OCI registry tests and Debian's prometheus for the
# analysis tests. Without root or apt, say so: those tests then skip.
set -euo pipefail

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
((${#missing[@]})) || exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "install-test-deps: ${missing[*]} missing and cannot be installed here (needs root and apt-get); the tests that use them will skip" >&2
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
# No recommends: prometheus would bring the node exporter, another machine-wide service.
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [ -d /run/systemd/system ]; then
  for service in "${missing[@]}"; do systemctl disable --now "$service" >/dev/null 2>&1 || true; done
fi
