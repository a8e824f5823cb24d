#!/usr/bin/env bash
# Every check and test loopscope has; what `make test` and CI run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
bash scripts/setup.sh test

step() { printf '\n==> %s\n' "$*" >&2; }

step "format"
cargo fmt --all -- --check
step "clippy, native"
cargo clippy --workspace --all-targets -- -D warnings
step "clippy, wasm32"
cargo clippy --workspace --all-targets --target wasm32-unknown-unknown -- -D warnings
step "native tests"
cargo test --workspace
step "browser tests (wasm-bindgen-test in headless Chromium)"
wasm-pack test --headless --chrome --chromedriver "$(command -v chromedriver)" src/web
step "page-level browser tests (the served page in Debian Chromium, via playwright-core)"
cargo build --quiet   # the `loopscope serve` the tests start
make --no-print-directory web
cargo run --quiet -- dist   # dist/loopscope.html, for dist.test.mjs (make dist, without a release build)
(cd tests/e2e && node --test --test-concurrency=1 .)
