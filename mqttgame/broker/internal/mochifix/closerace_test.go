package mochifix

import (
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// trackedListener is a TCP listener that follows its connections with a
// Tracker, as package broker's listeners do.
type trackedListener struct {
	ln net.Listener
	*Tracker
}

func (l *trackedListener) ID() string              { return "tracked" }
func (l *trackedListener) Address() string         { return l.ln.Addr().String() }
func (l *trackedListener) Protocol() string        { return "tcp" }
func (l *trackedListener) Init(*slog.Logger) error { return nil }

func (l *trackedListener) Serve(establish listeners.EstablishFn) {
	l.Accept(l.ln, "tracked", nil, establish)
}

func (l *trackedListener) Close(closeClients listeners.CloseFn) {
	l.StopAccepting()
	closeClients("tracked")
}

// closeWhileConnecting starts a server, has clients connect to it over and
// over, and closes it meanwhile: the traffic under which mochi races.
// shutdown closes the server.
func closeWhileConnecting(t *testing.T, listener func() (listeners.Listener, string), shutdown func(*mqtt.Server)) {
	for range 50 {
		srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.DiscardHandler)})
		if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
			t.Fatal(err)
		}
		l, addr := listener()
		if err := srv.AddListener(l); err != nil {
			t.Fatal(err)
		}
		if err := srv.Serve(); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err != nil {
					return
				}
				defer c.Close()
				cp := packets.NewControlPacket(packets.CONNECT)
				p := cp.Content.(*packets.Connect)
				p.ProtocolName, p.ProtocolVersion, p.CleanStart = "MQTT", 5, true
				if _, err := cp.WriteTo(c); err == nil {
					_ = c.SetReadDeadline(time.Now().Add(time.Second))
					_, _ = packets.ReadPacket(c) // the CONNACK, unless the server closed first
				}
			}()
		}
		shutdown(srv)
		wg.Wait()
	}
}

// TestCloseRaceBare: under the race detector, bare mochi's Close races the
// connections its TCP listener is establishing (run it with
// MOCHIFIX_BARE=1).
func TestCloseRaceBare(t *testing.T) {
	bareOnly(t, raceOfBareMochi)
	closeWhileConnecting(t, func() (listeners.Listener, string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		return listeners.NewTCP(listeners.Config{ID: "tcp", Address: addr}), addr
	}, func(srv *mqtt.Server) { _ = srv.Close() })
}

// TestCloseRaceFixed: with a Tracker, stopping the listener and waiting
// for its connections before mochi's Close, the same traffic runs
// without a race.
func TestCloseRaceFixed(t *testing.T) {
	t.Parallel()
	var l *trackedListener
	closeWhileConnecting(t, func() (listeners.Listener, string) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		l = &trackedListener{ln: ln, Tracker: NewTracker(nil)}
		return l, ln.Addr().String()
	}, func(srv *mqtt.Server) {
		l.StopAccepting()
		l.ln.Close()
		l.CloseAll()
		_ = srv.Close()
	})
}
