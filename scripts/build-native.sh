#!/usr/bin/env bash
# Builds the station's native addon (station-native/, napi-rs) in release mode.
set -euo pipefail
cd "$(dirname "$0")/../station-native"
echo "build-native: station-native/ has no crate yet" >&2
