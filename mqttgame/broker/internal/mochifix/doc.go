// Package mochifix holds the broker's repairs of mochi-mqtt v2.7.9
// (github.com/mochi-mqtt/server), and nothing else: one file per defect.
// Each file starts with what is wrong in mochi, the upstream issue or pull
// request it corresponds to (or, where there is none, the closest one),
// and how the repair works; its test, in the file of the same name ending
// in _test.go, runs a bare mochi server (no repair) and the repaired one
// over real connections, and shows the defect on the first and not on the
// second.
//
// # Upgrading mochi-mqtt
//
// Run this package's tests against the new release. A test whose bare
// case fails says that mochi no longer shows that defect: delete the file,
// its test, and the line in package broker that installs the repair.
// The defects that are data races show only under the race detector, and
// not in every run, and would fail any run that finds them, so their bare
// cases run only when asked for:
//
//	MOCHIFIX_BARE=1 go test -race -count 5 -run Bare ./mqttgame/broker/internal/mochifix/
//
// fails with mochi's race report for each one still there; one that passes
// every time no longer shows it. The bare case of the send quota deadlock
// runs every time and leaves the deadlocked server behind. The bare case of
// storetakeover.go is also run only when asked for: it has not shown the
// defect yet.
//
// Most of the defects are listed, with the pull requests that fix them
// upstream, in mochi-mqtt/server#538 ("cutting 2.8.0").
package mochifix
