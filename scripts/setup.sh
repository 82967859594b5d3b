#!/usr/bin/env bash
# Idempotent machine set-up for tests, benchmarks and the demo (run as root on a fresh Debian):
# system packages, npm dependencies, the TypeScript build and the native station addon.
# Every step is skipped when its result is already present, so repeated runs cost seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests start for real: nginx (decoy), tor + obfs4proxy (PT tests), redis
# (shared station state), and the network tools of the namespace testbed.
APT_PACKAGES=(nginx tor obfs4proxy redis-server iproute2 nftables tcpdump openssl ca-certificates curl procps chromium)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: need root to install: ${missing[*]}" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts some of these as system services where an init system exists; the tests start
  # their own instances on their own ports, so stop the system copies if they came up.
  for svc in nginx tor redis-server; do
    (command -v systemctl >/dev/null && systemctl stop "$svc" 2>/dev/null) || true
    (command -v service >/dev/null && service "$svc" stop >/dev/null 2>&1) || true
  done
fi

# Go (preinstalled on the development machines) builds the ML-KEM test decoy of the stealth tests.
if ! command -v go >/dev/null 2>&1 && [ -x /usr/local/go/bin/go ]; then export PATH="$PATH:/usr/local/go/bin"; fi
if ! command -v go >/dev/null 2>&1; then
  echo "setup: Go >= 1.25 is needed by test/stealth (ML-KEM decoy); install it from https://go.dev/dl" >&2
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
fi

npm run --silent build
if [ -f station-native/Cargo.toml ]; then
  npm run --silent build:native
fi

# The fuzz targets of the native addon need the nightly toolchain and cargo-fuzz (CI runs them for
# a bounded time); installed only when asked, since it takes minutes on a fresh machine.
if [ "${SETUP_FUZZ:-0}" = 1 ]; then
  rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
  cargo fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz --locked
fi
echo "setup: done"
