package mqtttest

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// ServerKeepAlive returns a broker hook that sets a Server Keep Alive of
// seconds in CONNACK, as MQTT v5 lets a broker do, for clients that ask
// for none or for a longer one: mochi sets it only through a hook. Pass
// it in broker.Options.Hooks.
func ServerKeepAlive(seconds uint16) mqtt.Hook { return &serverKeepAlive{seconds: seconds} }

type serverKeepAlive struct {
	mqtt.HookBase
	seconds uint16
}

func (h *serverKeepAlive) ID() string           { return "server-keepalive" }
func (h *serverKeepAlive) Provides(b byte) bool { return b == mqtt.OnConnect }

func (h *serverKeepAlive) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if pk.Connect.Keepalive == 0 || pk.Connect.Keepalive > h.seconds {
		cl.State.ServerKeepalive = true
		cl.State.Keepalive = h.seconds
	}
	return nil
}
