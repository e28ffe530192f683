//go:build !js

package mqttgame_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"

	"github.com/mqttgame/mqttgame/mqttgame"
	"github.com/mqttgame/mqttgame/mqttgame/broker"
)

// rawBroker accepts connections and answers with fixed bytes, as a broken
// or hostile broker would. It only exists to attack the client.
func rawBroker(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// TestHostileRemainingLength: a broker that announces a 256 MiB packet in
// five bytes loses the connection, and the client allocates nothing near
// that size.
// It runs alone: it reads the heap.
func TestHostileRemainingLength(t *testing.T) {
	addr := rawBroker(t, func(c net.Conn) {
		buf := make([]byte, 1024)
		c.Read(buf)                                   // CONNECT
		c.Write([]byte{0x20, 0x03, 0x00, 0x00, 0x00}) // CONNACK: success, no properties
		c.Write([]byte{0x30, 0xff, 0xff, 0xff, 0x7f}) // PUBLISH of 268435455 bytes
		io.Copy(io.Discard, c)
	})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c := newClient(t, "mqtt://"+addr, func(o *mqttgame.Options) { o.ReconnectDelay = time.Hour })
	c.Connect()
	tickUntil(t, "the connection to drop", func() bool { return errors.Is(c.Err(), mqttgame.ErrPacketTooLarge) }, c)
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Fatalf("the client allocated %d MiB", grew>>20)
	}
	if !errors.Is(c.Err(), mqttgame.ErrConnectionLost) || !strings.Contains(c.Err().Error(), "268435460-byte packet") {
		t.Fatalf("Err() = %v", c.Err())
	}
}

// TestConnectTimeout: a broker that accepts the connection and says
// nothing costs at most about ConnectTimeout per attempt, for the dial
// (here the WebSocket handshake) as for CONNACK.
// It runs alone: it times the attempt.
func TestConnectTimeout(t *testing.T) {
	silent := rawBroker(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	for _, url := range []string{"ws://" + silent + "/mqtt", "mqtt://" + silent} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			c := newClient(t, url, func(o *mqttgame.Options) {
				o.ConnectTimeout = 300 * time.Millisecond
				o.ReconnectDelay = time.Hour
			})
			start := time.Now()
			c.Connect()
			tickUntil(t, "the attempt to time out", c.ConnectFailed, c)
			took := time.Since(start)
			if !errors.Is(c.Err(), mqttgame.ErrTimeout) {
				t.Fatalf("Err() = %v, want ErrTimeout", c.Err())
			}
			t.Logf("attempt gave up after %v (ConnectTimeout 300ms)", took)
			if took > 5*time.Second {
				t.Fatalf("attempt took %v; the connect timeout did not bound it", took)
			}
		})
	}
}

// TestCredentialsNeverLogged runs a refused login with every log line
// captured, at debug level, client and broker: the password appears in
// none of them, nor in the errors.
func TestCredentialsNeverLogged(t *testing.T) {
	t.Parallel()
	const password = "hunter2-Very-Secret"
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ledger := &auth.Ledger{Auth: auth.AuthRules{{Username: "player", Password: "another", Allow: true}}}
	b := startBroker(t, &broker.Options{
		Mochi: func(*mqtt.Server) []mqtt.Hook {
			return []mqtt.Hook{hookWithConfig{new(auth.Hook), &auth.Options{Ledger: ledger}}}
		},
		Logger: logger,
	})
	c := newClient(t, b.URL(), func(o *mqttgame.Options) {
		o.Username, o.Password, o.Logger = "player", password, logger
		o.ReconnectDelay = time.Millisecond
	})
	c.Connect()
	tickUntil(t, "three refusals", func() bool { return countFailures(c) >= 3 }, c)
	c.Close()
	if _, err := mqttgame.New(&mqttgame.Options{Brokers: []string{"ws://player:" + password + "@localhost/mqtt"}, Logger: logger}); err != nil {
		logger.Error("refused", "err", err)
	}
	mu.Lock()
	text := logs.String()
	mu.Unlock()
	for _, e := range eventsOf(c) {
		if e.Err != nil {
			text += e.Err.Error()
		}
	}
	if !strings.Contains(text, "bad user name or password") {
		t.Fatal("the log holds no refusal; the test saw nothing")
	}
	if strings.Contains(text, password) {
		t.Fatal("the password appears in the log")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
