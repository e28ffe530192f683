package mochifix

import (
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// TestConnackLimits: bare mochi's CONNACK does not say its maximum packet
// size, nor that it has no retained messages; with AnnounceLimits it does.
func TestConnackLimits(t *testing.T) {
	t.Parallel()
	for _, fixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "bare", true: "fixed"}[fixed], func(t *testing.T) {
			o := serverOptions{caps: func(c *mqtt.Capabilities) {
				c.MaximumPacketSize = 1024
				c.RetainAvailable = 0
			}}
			if fixed {
				o.hooks = func(srv *mqtt.Server) []mqtt.Hook { return []mqtt.Hook{NewAnnounceLimits(srv.Options.Capabilities)} }
			}
			s := startServer(t, o)
			_, ca := dial(t, s.addr, session{id: "c"})
			p := ca.Properties
			announced := p != nil && p.MaximumPacketSize != nil && *p.MaximumPacketSize == 1024 &&
				p.RetainAvailable != nil && *p.RetainAvailable == 0
			switch {
			case fixed && !announced:
				t.Errorf("CONNACK properties %+v: the limits are not announced", p)
			case !fixed && announced:
				gone(t, "connacklimits.go", "CONNACK announces the maximum packet size")
			}
		})
	}
}
