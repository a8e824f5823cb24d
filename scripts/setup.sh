#!/usr/bin/env bash
# Installs what loopscope needs, idempotently: each step is skipped when what it
# installs is already there at the right version, so a second run takes seconds.
#   scripts/setup.sh web    what `make run` needs: the wasm32 target, wasm-pack, wasm-bindgen-cli
#   scripts/setup.sh test   all of that, plus clippy/rustfmt, Debian chromium + chromedriver,
#                           and the npm packages of the browser end-to-end tests
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
what=${1:-test}
say() { echo "setup: $*" >&2; }

# wasm-pack: any 0.13+ works; this is the version checked here.
WASM_PACK_VERSION=0.15.1
# wasm-bindgen-cli must be exactly the wasm-bindgen in Cargo.lock (Cargo.toml pins it with =).
WASM_BINDGEN_VERSION=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, "", $0); print; exit }' Cargo.lock)
[ -n "$WASM_BINDGEN_VERSION" ] || { say "cannot read wasm-bindgen's version from Cargo.lock"; exit 1; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown
fi

if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $WASM_BINDGEN_VERSION"; then
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
    # Not --locked: with it, the install fails on a crate the registry lacks.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

if ! command -v wasm-pack >/dev/null; then
    say "installing wasm-pack $WASM_PACK_VERSION (about 4 minutes, once)"
    cargo install wasm-pack --version "$WASM_PACK_VERSION"
fi

[ "$what" = test ] || exit 0

for component in clippy rustfmt; do
    if ! rustup component list --installed | grep -q "^$component"; then
        rustup component add "$component"
    fi
done

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    say "installing Debian's chromium and chromium-driver (a matching pair)"
    sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi

if [ -f tests/e2e/package-lock.json ]; then
    if [ ! -d tests/e2e/node_modules ] || [ tests/e2e/package-lock.json -nt tests/e2e/node_modules ]; then
        say "installing the end-to-end tests' npm packages"
        (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
        touch tests/e2e/node_modules
    fi
fi
