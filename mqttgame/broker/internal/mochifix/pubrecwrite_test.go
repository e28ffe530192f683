package mochifix

import (
	"errors"
	"net"
	"sync/atomic"
	"testing"

	mpackets "github.com/mochi-mqtt/server/v2/packets"
)

// failFirstPubrec fails, once, the write of a PUBREC, as a connection
// reset just then would.
type failFirstPubrec struct {
	net.Conn
	failed *atomic.Bool
}

func (c failFirstPubrec) Write(p []byte) (int, error) {
	if len(p) > 0 && p[0]>>4 == mpackets.Pubrec && c.failed.CompareAndSwap(false, true) {
		c.Conn.Close()
		return 0, errors.New("connection reset")
	}
	return c.Conn.Write(p)
}

// TestPubrecWrite: a QoS 2 message whose PUBREC cannot be written is never
// routed by bare mochi, and the client's resend on its next connection is
// refused; with ForgivingConn it is routed, once.
func TestPubrecWrite(t *testing.T) {
	t.Parallel()
	for _, fixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "bare", true: "fixed"}[fixed], func(t *testing.T) {
			var failed atomic.Bool
			wrap := func(c net.Conn) net.Conn { return failFirstPubrec{c, &failed} }
			if fixed {
				wrap = func(c net.Conn) net.Conn { return NewForgivingConn(failFirstPubrec{c, &failed}, nil) }
			}
			s := startServer(t, serverOptions{wrap: wrap})
			sub, _ := dial(t, s.addr, session{id: "sub"})
			sub.subscribe("p/#", 0)
			keeper := session{id: "pub", keep: true}
			pub, _ := dial(t, s.addr, keeper)
			pub.publish("p/held", "m", 2, 1)
			if !pub.ended() {
				t.Fatal("the connection did not fail")
			}
			// The client sends the message again on its next connection.
			pub, _ = dial(t, s.addr, keeper)
			n := pub.resendCounted(sub, "p/held", "p/after")
			t.Logf("the subscriber got the message %d times", n)
			switch {
			case fixed && n != 1:
				t.Errorf("the subscriber got the message %d times, want once", n)
			case !fixed && n != 0:
				gone(t, "pubrecwrite.go", "the message was routed")
			}
		})
	}
}
