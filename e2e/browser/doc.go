// Package browser holds the test of the demo's web build in a real
// browser: headless Chromium, driven over the DevTools protocol, loads
// the page that the demo's hosting process serves, and a native Go
// player in the same room chats with it across a restart of the hosting
// process, until the tab is closed. It has no code of its own; see
// browser_test.go. In the e2e folder,
//
//	go test ./browser -update
//
// refreshes the README's screenshot of the page (docs/browser.png).
package browser
