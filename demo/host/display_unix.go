//go:build !js && !windows && !darwin && !android && !ios

package host

// needsDisplayServer: here a window needs X11 or Wayland.
const needsDisplayServer = true
