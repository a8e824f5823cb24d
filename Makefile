# The two commands a newcomer needs. Both install what they need the first time.
PORT ?= 8000
export PATH := $(HOME)/.cargo/bin:$(PATH)

.PHONY: run test web dist bench calibrate clean

## make run [PORT=8000]: build the web package and serve the simulator
run: web
	cargo run --release --quiet -- serve --port $(PORT)

## make test: every check and test (fmt, clippy native + wasm32, cargo test, browser tests)
test:
	bash scripts/test.sh

## make bench: measures issue 11's five (the page at scale, the model, the probe, the
## overhead, size and start) and rewrites their sections of BENCHMARKS.md
bench: web
	bash scripts/setup.sh test
	cargo build --quiet
	cargo build --release --quiet -p loopscope-cli
	cargo run --quiet -- dist
	cargo bench --quiet --bench model -- --noplot
	cd tests/e2e && node bench.mjs --write

## make calibrate: real FastAPI on uvicorn against the model (a Python 3.11+ venv from
## PyPI; about two minutes on a quiet machine); rewrites BENCHMARKS.md's calibration
calibrate:
	cargo build --release --quiet -p loopscope-cli
	LOOPSCOPE_MODEL=target/release/loopscope python3 scripts/calibrate/calibrate.py

## make dist: the page as one file, dist/loopscope.html, to carry and double-click
dist: web
	@echo "make dist: building the loopscope command (release, about a minute the first time), then writing dist/loopscope.html"
	cargo run --release --quiet -- dist

# cargo, then wasm-bindgen (the version Cargo.lock pins) removing the name section: the
# module keeps its target_features section, so wasm-bindgen sees which features are on
# (wasm-pack with `strip` dropped it, and warned on every build).
web:
	bash scripts/setup.sh web
	@echo "make web: compiling the simulator to WebAssembly into www/pkg (cargo, then wasm-bindgen)"
	CARGO_PROFILE_RELEASE_OPT_LEVEL=z CARGO_PROFILE_RELEASE_STRIP=debuginfo cargo build --quiet -p loopscope-web --release --target wasm32-unknown-unknown
	wasm-bindgen --target no-modules --out-dir www/pkg --out-name loopscope --no-typescript --remove-name-section target/wasm32-unknown-unknown/release/loopscope_web.wasm

clean:
	cargo clean
	rm -rf www/pkg dist
