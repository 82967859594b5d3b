#!/usr/bin/env bash
# The Rust crates' own tests (unit and integration): the station data plane and the record AEAD.
# Part of `npm run test:all`, after the TypeScript suite.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
for crate in station-native record-native; do
  echo "test-native: cargo test in $crate"
  (cd "$root/$crate" && cargo test --locked --quiet)
done
