//go:build windows || darwin

package host

// needsDisplayServer: here the system always has a desktop.
const needsDisplayServer = false
