//go:build js

package mqttgame

import "time"

// Background tabs throttle timers to about once a minute, so a short
// keepalive would drop the connection of every hidden tab.
const defaultKeepAlive = 60 * time.Second

const nativeSchemeHint = " (the browser only speaks WebSocket)"

func schemeSupported(scheme string) bool { return scheme == "ws" || scheme == "wss" }
