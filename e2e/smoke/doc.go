// Package smoke holds the demo's smoke test: the real desktop binary,
// two players on one embedded broker, windows on a virtual X server.
// It has no code of its own; see smoke_test.go. In the e2e folder,
//
//	go test ./smoke -update
//
// refreshes the README's screenshot (docs/demo.png) from it.
package smoke
