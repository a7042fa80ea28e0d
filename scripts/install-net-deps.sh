#!/usr/bin/env bash
# Installs the real peers the network integration tests talk to: nginx (TLS-terminating reverse proxy),
# dnsmasq (DNS server on a high port) and openssl (test CA and certificates); and the consumers the output tests
# validate against: xmllint (JUnit), promtool (Prometheus), chromium (HTML); HAProxy and Caddy, whose upstream HTTP
# version the proxy tests check against a real Envoy; and shellcheck, which actionlint runs on the run: scripts of
# deploy/github-actions/gwdoctor.yml.
# Idempotent: does nothing when the binaries are already there. Runs as root with no stdin (CI).
set -euo pipefail

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v dnsmasq >/dev/null 2>&1 || [ -x /usr/sbin/dnsmasq ] || need+=(dnsmasq-base)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v xmllint >/dev/null 2>&1 || need+=(libxml2-utils)   # JUnit output tests: xmllint --schema
command -v promtool >/dev/null 2>&1 || need+=(prometheus)      # Prometheus output tests: promtool check metrics
command -v chromium >/dev/null 2>&1 || need+=(chromium fonts-dejavu-core)   # HTML output tests: headless rendering
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)   # kubectl plugin test: kubectl's own plugin lookup
command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || need+=(haproxy)   # the upstream HTTP version HAProxy and Caddy
command -v caddy >/dev/null 2>&1 || need+=(caddy)                                   # send to the gateway (ProxyHttp10Upstream's fix)
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)       # workflow test: actionlint -shellcheck

if [ "${#need[@]}" -eq 0 ]; then
  echo "install-net-deps: nginx, dnsmasq, openssl, xmllint, promtool, chromium, kubectl, haproxy, caddy and shellcheck are present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo -n"; fi

export DEBIAN_FRONTEND=noninteractive
# The nginx package would start a system nginx on port 80: forbid service starts during the install.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
  $SUDO chmod +x "$policy"
  made_policy=1
fi
cleanup() { if [ "$made_policy" -eq 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

echo "install-net-deps: installing ${need[*]}"
$SUDO apt-get update -qq </dev/null
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" </dev/null
echo "install-net-deps: done"
