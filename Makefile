# The two commands a newcomer needs. Both install what they need the first time.
PORT ?= 8000

.PHONY: run test web dist bench clean

## make run [PORT=8000]: build the web package and serve the simulator
run: web
	cargo run --release --quiet -- serve --port $(PORT)

## make test: every check and test (fmt, clippy native + wasm32, cargo test, browser tests)
test:
	bash scripts/test.sh

## make bench: the browser runtime's benchmarks (results recorded in BENCHMARKS.md)
bench: web
	bash scripts/setup.sh test
	cargo build --quiet
	cargo run --quiet -- dist
	cd tests/e2e && node bench.mjs

## make dist: the page as one file, dist/loopscope.html, to carry and double-click
dist: web
	cargo run --release --quiet -- dist

web:
	bash scripts/setup.sh web
	CARGO_PROFILE_RELEASE_OPT_LEVEL=s wasm-pack build src/web --release --target no-modules --out-dir ../../www/pkg --out-name loopscope --no-typescript --no-pack

clean:
	cargo clean
	rm -rf www/pkg dist
