//go:build !js

package mochifix

import (
	"errors"
	"net"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage/bolt"
	mpackets "github.com/mochi-mqtt/server/v2/packets"
	"go.etcd.io/bbolt"
)

// The store tests keep sessions in a bolt file across a restart of the
// server, as package broker does with Options.KeepSessions.

// openBolt opens the bolt file in dir.
func openBolt(t *testing.T, dir string) *bolt.Hook {
	t.Helper()
	h := new(bolt.Hook)
	if err := h.Init(&bolt.Options{Path: filepath.Join(dir, "test.db"), Options: &bbolt.Options{Timeout: time.Second}}); err != nil {
		t.Fatal(err)
	}
	return h
}

// opened is a store hook whose file is open already.
type opened struct{ mqtt.Hook }

func (opened) Init(any) error { return nil }

// storeRun starts a server on dir's store: the bolt hook alone (bare) or
// wrapped by the repairs, less those without removes.
func storeRun(t *testing.T, dir, addr string, fixed bool, without func(*Store) mqtt.Hook) *server {
	t.Helper()
	h := openBolt(t, dir)
	var hook mqtt.Hook = h
	if fixed {
		hook = NewStore(h, true)
	} else if without != nil {
		hook = without(NewStore(h, true))
	}
	return startServer(t, serverOptions{addr: addr, hooks: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{opened{hook}} }})
}

// restart closes s and starts it again on the same port and store. The
// tests that restart run one at a time, before the parallel ones: a test
// beside them could take the port meanwhile.
func restart(t *testing.T, s *server, dir string, fixed bool, without func(*Store) mqtt.Hook) *server {
	t.Helper()
	s.close()
	return storeRun(t, dir, s.addr, fixed, without)
}

// TestStorePacketID: a session with a QoS 1 message in flight, kept on
// disk, cannot be resumed after a restart of bare mochi (the message's
// packet identifier was not saved); with the repair the message comes.
func TestStorePacketID(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "bare", true: "fixed"}[fixed], func(t *testing.T) {
			dir := t.TempDir()
			s := storeRun(t, dir, "", fixed, nil)
			keeper := session{id: "keeper", keep: true}
			sub, _ := dial(t, s.addr, keeper)
			sub.subscribe("s/#", 1)
			sub.c.Close()
			pub, _ := dial(t, s.addr, session{id: "pub"})
			pub.publish("s/m", "m", 1, 1)
			if ack := pub.read(); ack.Type != packets.PUBACK {
				t.Fatalf("publisher: got %v", ack)
			}

			s = restart(t, s, dir, fixed, nil)
			sub, _ = dial(t, s.addr, keeper)
			msg, err := sub.tryRead(waitFor)
			got := err == nil && msg.Type == packets.PUBLISH
			t.Logf("after the restart the resumed session got %v (%v)", msg, err)
			switch {
			case fixed && !got:
				t.Error("the resumed session did not get its message")
			case !fixed && got:
				gone(t, "storepacketid.go", "a restored session got its message")
			}
		})
	}
}

// withoutPubrel is the repaired store less the PUBREL repair.
func withoutPubrel(s *Store) mqtt.Hook { return noPubrel{s} }

type noPubrel struct{ *Store }

func (h noPubrel) Provides(b byte) bool { return b != mqtt.OnPacketProcessed && h.Store.Provides(b) }

// TestStorePubrel: a QoS 2 message the subscriber confirmed with PUBREC
// is, after a restart of bare mochi, sent again as a PUBLISH (a second
// copy); with the repair the broker goes on with the PUBREL.
func TestStorePubrel(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "bare", true: "fixed"}[fixed], func(t *testing.T) {
			dir := t.TempDir()
			s := storeRun(t, dir, "", fixed, withoutPubrel)
			keeper := session{id: "keeper", keep: true}
			sub, _ := dial(t, s.addr, keeper)
			sub.subscribe("s/#", 2)
			pub, _ := dial(t, s.addr, session{id: "pub"})
			pub.publish("s/m", "m", 2, 1)
			msg := sub.read()
			if msg.Type != packets.PUBLISH {
				t.Fatalf("subscriber: got %v", msg)
			}
			sub.ack(msg)
			if rel := sub.read(); rel.Type != packets.PUBREL {
				t.Fatalf("subscriber: got %v, want PUBREL", rel)
			}
			// No PUBCOMP: the exchange is half done when the broker stops.
			sub.c.Close()

			s = restart(t, s, dir, fixed, withoutPubrel)
			sub, _ = dial(t, s.addr, keeper)
			first := sub.read()
			t.Logf("after the restart the broker sent %v", first.PacketType())
			switch {
			case fixed && first.Type != packets.PUBREL:
				t.Errorf("got %v, want the PUBREL", first)
			case !fixed && first.Type != packets.PUBLISH:
				gone(t, "storepubrel.go", "the broker did not send the confirmed message again")
			}
		})
	}
}

// dropsOnTakeover is the repaired store less the takeover repair.
func dropsOnTakeover(s *Store) mqtt.Hook { return takeoverDrops{s} }

type takeoverDrops struct{ *Store }

func (h takeoverDrops) OnQosDropped(cl *mqtt.Client, pk mpackets.Packet) {
	h.Store.Hook.OnQosDropped(cl, pk)
}

// failFirstResend fails, once, the write of a PUBLISH sent again (the
// DUP flag set), as a connection reset in the middle of a resumption
// would.
type failFirstResend struct {
	net.Conn
	failed *atomic.Bool
}

func (c failFirstResend) Write(p []byte) (int, error) {
	if len(p) > 0 && p[0]>>4 == mpackets.Publish && p[0]&0x08 != 0 && c.failed.CompareAndSwap(false, true) {
		c.Conn.Close()
		return 0, errors.New("connection reset")
	}
	return c.Conn.Write(p)
}

// TestStoreTakeover: when a session with two messages in flight is
// resumed, bare mochi deletes them from disk and saves them again as it
// sends them; a connection that fails on the first should lose the second
// from disk, and a restart lose it. With the repair both come after the
// restart.
//
// The bare case has not shown the loss yet: mochi had dropped only one of
// the two messages from disk when the resend failed. It runs only when
// asked for (MOCHIFIX_BARE=1), until a scenario shows the defect, or shows
// that storetakeover.go can go.
func TestStoreTakeover(t *testing.T) {
	for _, fixed := range []bool{false, true} {
		t.Run(map[bool]string{false: "bare", true: "fixed"}[fixed], func(t *testing.T) {
			if !fixed {
				bareOnly(t, "the loss has not shown on bare mochi yet")
			}
			dir := t.TempDir()
			var failed atomic.Bool
			h := openBolt(t, dir)
			var hook mqtt.Hook = NewStore(h, true)
			if !fixed {
				hook = dropsOnTakeover(NewStore(h, true))
			}
			s := startServer(t, serverOptions{
				hooks: func(*mqtt.Server) []mqtt.Hook { return []mqtt.Hook{opened{hook}} },
				wrap:  func(c net.Conn) net.Conn { return failFirstResend{c, &failed} },
			})
			keeper := session{id: "keeper", keep: true}
			sub, _ := dial(t, s.addr, keeper)
			sub.subscribe("s/#", 1)
			sub.c.Close()
			pub, _ := dial(t, s.addr, session{id: "pub"})
			for id := range uint16(2) {
				pub.publish("s/m", "m", 1, id+1)
				if ack := pub.read(); ack.Type != packets.PUBACK {
					t.Fatalf("publisher: got %v", ack)
				}
			}
			// The session is resumed, and the connection fails as the
			// broker sends the first message again.
			sub, _ = dial(t, s.addr, keeper)
			if !sub.ended() {
				t.Fatal("the connection did not fail")
			}

			s = restart(t, s, dir, fixed, dropsOnTakeover)
			sub, _ = dial(t, s.addr, keeper)
			n := sub.resent()
			t.Logf("messages sent again after the restart: %d", n)
			switch {
			case fixed && n != 2:
				t.Errorf("%d messages in flight came after the restart, want 2", n)
			case !fixed && n == 2:
				gone(t, "storetakeover.go", "both messages in flight survived the restart")
			}
		})
	}
}
