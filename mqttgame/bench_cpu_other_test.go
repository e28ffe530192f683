//go:build !unix && !js

package mqttgame_test

import "time"

// processCPU is not measured here: reportCPU reports nothing.
func processCPU() time.Duration { return -1 }
