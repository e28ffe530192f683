// Package gamedeps holds no code: its test builds a game's module that
// imports the library's packages and checks that the game's module graph
// holds none of the dependencies of the suites in e2e (Chromium's
// DevTools client, the benchmark report's plotting library and what they
// pull in). Those live in e2e's own go.mod, which a game never reads.
package gamedeps
