package mqttgame

import (
	"context"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// TestServerKeepAliveFollowed: a broker's Server Keep Alive replaces the
// client's own keepalive for the connection's pinger, as MQTT 5 requires
// (3.2.2.3.14). On a fake clock (testing/synctest), a client asking for
// 30 s of a broker that says 2 s pings after 2 s of quiet, every 2 s; a
// broker that says nothing gets the client's 30 s.
func TestServerKeepAliveFollowed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		server uint16 // 0: no Server Keep Alive in the CONNACK
		want   time.Duration
	}{
		{"broker's", 2, 2 * time.Second},
		{"client's", 0, 30 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				pings := pingsOfPahoClient(t, 30, tc.server)
				for i := 1; i <= 3; i++ {
					select {
					case at := <-pings:
						if want := time.Duration(i) * tc.want; at != want {
							t.Fatalf("PINGREQ %d at %v after the CONNACK, want %v", i, at, want)
						}
					case <-time.After(time.Hour):
						t.Fatalf("no PINGREQ %d within an hour", i)
					}
				}
			})
		})
	}
}

// pingsOfPahoClient connects a paho client with the connection's pinger,
// as Client.connect builds it, over a pipe to a broker played here: it
// answers CONNECT with a CONNACK that carries serverKeepAlive (unless 0),
// answers every PINGREQ after a round trip (rtt), and reports when each came, since the
// CONNACK.
func pingsOfPahoClient(t *testing.T, keepAlive, serverKeepAlive uint16) <-chan time.Duration {
	t.Helper()
	client, broker := net.Pipe()
	pings := make(chan time.Duration, 16)
	brokerDone := make(chan struct{})
	go func() {
		defer close(brokerDone)
		cp, err := packets.ReadPacket(broker)
		if err != nil || cp.Type != packets.CONNECT {
			return
		}
		ca := packets.NewControlPacket(packets.CONNACK)
		props := &packets.Properties{}
		if serverKeepAlive != 0 {
			props.ServerKeepAlive = &serverKeepAlive
		}
		ca.Content.(*packets.Connack).Properties = props
		if _, err := ca.WriteTo(broker); err != nil {
			return
		}
		start := time.Now()
		for {
			cp, err := packets.ReadPacket(broker)
			if err != nil {
				return
			}
			if cp.Type == packets.PINGREQ {
				pings <- time.Since(start)
				time.Sleep(rtt)
				if _, err := packets.NewControlPacket(packets.PINGRESP).WriteTo(broker); err != nil {
					return
				}
			}
		}
	}()
	pc := newPacketConn(client, 1<<20, nil, nil, nil, nil)
	cli := paho.NewClient(paho.ClientConfig{Conn: pc, PingHandler: newPinger(nil, nil)})
	if _, err := cli.Connect(context.Background(), &paho.Connect{ClientID: "pinger", KeepAlive: keepAlive, CleanStart: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pc.Close()
		broker.Close()
		<-cli.Done()
		<-brokerDone
	})
	return pings
}
