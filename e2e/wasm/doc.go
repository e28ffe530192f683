// Package wasm holds no code: its test runs the mqttgame package's
// tests compiled to WebAssembly (GOOS=js GOARCH=wasm) under Node, whose
// WebSocket is the browser's API, so the browser-only code (dial_js.go,
// options_js.go) runs for real. It builds the test binary, starts the
// embedded broker the WebAssembly tests cannot start themselves (nothing
// listens in a browser), passes its URL in MQTTGAME_TEST_BROKER, and
// restarts the broker when a test asks.
package wasm
