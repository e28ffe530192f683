package mqttgame

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho/log"
)

// errKeepAlive is why the pinger gives up on a connection.
var errKeepAlive = errors.New("no answer from the broker within 1.5 times the keepalive")

// KeepAlive returns the keepalive in force since the latest connection
// came up: Options.KeepAlive in whole seconds, or the Server Keep Alive
// the broker set in CONNACK, which the client follows instead. 0 before
// the first connection, or when the keepalive is off. It may be called
// from any goroutine.
func (c *Client) KeepAlive() time.Duration { return time.Duration(c.keepAlive.Load()) }

// pinger keeps the connection alive and notices when it is dead. It sends
// PINGREQ once the connection has been quiet for the keepalive in either
// direction, and declares the connection dead when nothing arrived in the
// half keepalive after that: a half-open connection is found within 1.5
// times the keepalive. A timer that fires late (a throttled background
// tab) only delays the ping; it never counts against the broker.
type pinger struct {
	mu           sync.Mutex
	lastSent     time.Time
	lastReceived time.Time
	onDead       func(error) // called before Run returns its error
	holding      func() bool // reports reads held back on purpose; may be nil
}

func (p *pinger) Run(ctx context.Context, conn net.Conn, keepAlive uint16) error {
	if keepAlive == 0 {
		return nil
	}
	interval := time.Duration(keepAlive) * time.Second
	grace := interval / 2
	p.mu.Lock()
	now := time.Now()
	p.lastSent, p.lastReceived = now, now
	p.mu.Unlock()

	var pingSent time.Time // zero when no ping is unanswered
	errCh := make(chan error, 1)
	timer := time.NewTimer(interval)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-errCh:
			return err
		case now := <-timer.C:
			p.mu.Lock()
			sent, received := p.lastSent, p.lastReceived
			p.mu.Unlock()
			if !pingSent.IsZero() && received.After(pingSent) {
				pingSent = time.Time{}
			}
			if !pingSent.IsZero() {
				if wait := pingSent.Add(grace).Sub(now); wait > 0 {
					timer.Reset(wait)
					continue
				}
				if p.holding != nil && p.holding() {
					// The answer may be waiting, unread on purpose: that
					// says nothing about the broker.
					pingSent = time.Time{}
					timer.Reset(interval)
					continue
				}
				if p.onDead != nil {
					p.onDead(errKeepAlive)
				}
				return errKeepAlive
			}
			due := sent
			if received.Before(due) {
				due = received
			}
			due = due.Add(interval)
			if wait := due.Sub(now); wait > 0 {
				timer.Reset(wait)
				continue
			}
			pingSent = now
			go func() {
				// A write can outlast the keepalive on a stalled link;
				// closing the connection ends it.
				if _, err := packets.NewControlPacket(packets.PINGREQ).WriteTo(conn); err != nil {
					select {
					case errCh <- err:
					default:
					}
				}
			}()
			p.PacketSent()
			timer.Reset(grace)
		}
	}
}

func (p *pinger) PacketSent() {
	p.mu.Lock()
	p.lastSent = time.Now()
	p.mu.Unlock()
}

func (p *pinger) PacketReceived() {
	p.mu.Lock()
	p.lastReceived = time.Now()
	p.mu.Unlock()
}

func (p *pinger) PingResp() {}

func (p *pinger) SetDebug(log.Logger) {}
