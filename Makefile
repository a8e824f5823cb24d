# The two commands a newcomer needs. Both install what they need the first time.
PORT ?= 8000

.PHONY: run test web clean

## make run [PORT=8000]: build the web package and serve the simulator
run: web
	cargo run --release --quiet -- serve --port $(PORT)

## make test: every check and test (fmt, clippy native + wasm32, cargo test, browser tests)
test:
	bash scripts/test.sh

web:
	bash scripts/setup.sh web
	wasm-pack build --release --target web --out-dir www/pkg --no-typescript --no-pack

clean:
	cargo clean
	rm -rf www/pkg
