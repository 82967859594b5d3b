#!/usr/bin/env bash
# Runs every fuzz target for a bounded time (default 60 s each), from the seed corpus.
# Needs the nightly toolchain and cargo-fuzz:  rustup toolchain install nightly && cargo install cargo-fuzz
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-60}"
if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: needs the nightly toolchain and cargo-fuzz (rustup toolchain install nightly; cargo install cargo-fuzz)" >&2
  exit 1
fi
for target in packet_parser tag_extractor; do
  mkdir -p "corpus/$target"
  # A scratch copy keeps the committed seed corpus small; -max_total_time bounds the run.
  work="$(mktemp -d)"
  cp "corpus/$target/"* "$work/" 2>/dev/null || true
  cargo +nightly fuzz run "$target" "$work" -- -max_total_time="$secs" -rss_limit_mb=2048
  rm -rf "$work"
done
