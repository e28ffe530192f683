//go:build !js

package mqttgame

import "time"

const defaultKeepAlive = 30 * time.Second

const nativeSchemeHint = ", mqtt://, tcp:// or mqtts://"

func schemeSupported(scheme string) bool { return true }
