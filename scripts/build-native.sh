#!/usr/bin/env bash
# Builds the station's native addon (station-native/, napi-rs) in release mode and places it at
# station-native/tapdance-station.<platform>-<arch>.node, where src/station/native.ts loads it.
# The crate is compiled for the CPU it runs on (station-native/.cargo/config.toml).
set -euo pipefail
cd "$(dirname "$0")/../station-native"
if ! command -v cargo >/dev/null; then
  echo "build-native: cargo not found; install Rust (https://rustup.rs) to build the station addon" >&2
  exit 1
fi
cargo build --release --locked --features node
platform="$(node -p 'process.platform + "-" + process.arch')"
case "$(uname -s)" in
  Darwin) lib=libtapdance_station_native.dylib ;;
  *) lib=libtapdance_station_native.so ;;
esac
cp "target/release/$lib" "tapdance-station.$platform.node.tmp"
mv "tapdance-station.$platform.node.tmp" "tapdance-station.$platform.node"
echo "build-native: station-native/tapdance-station.$platform.node"
