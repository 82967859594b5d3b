#!/usr/bin/env bash
# Builds the native addons (napi-rs) in release mode:
#  - station-native/ -> station-native/tapdance-station.<platform>-<arch>.node, the station's data
#    plane, loaded by src/station/native.ts; compiled for the CPU it runs on
#    (station-native/.cargo/config.toml);
#  - record-native/ -> record-native/tapdance-record.<platform>-<arch>.node, the optional TLS record
#    AEAD the client and the station use when present (src/tls/native-aead.ts); `ring` picks the
#    CPU's instructions at run time, so this one is portable.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
if ! command -v cargo >/dev/null; then
  echo "build-native: cargo not found; install Rust (https://rustup.rs) to build the native addons" >&2
  exit 1
fi
platform="$(node -p 'process.platform + "-" + process.arch')"
build() { # crate-dir library-stem addon-name
  cd "$root/$1"
  cargo build --release --locked --features node
  local lib
  case "$(uname -s)" in
    Darwin) lib="lib$2.dylib" ;;
    *) lib="lib$2.so" ;;
  esac
  cp "target/release/$lib" "$3.$platform.node.tmp"
  mv "$3.$platform.node.tmp" "$3.$platform.node"
  echo "build-native: $1/$3.$platform.node"
}
build station-native tapdance_station_native tapdance-station
build record-native tapdance_record_native tapdance-record
