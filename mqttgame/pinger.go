package mqttgame

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho/log"
)

// errKeepAlive is why the pinger gives up on a connection.
var errKeepAlive = errors.New("no answer from the broker within 1.5 times the keepalive")

// pinger keeps one connection alive and notices when it is dead. It sends
// PINGREQ once the connection has been quiet for the keepalive in either
// direction, and declares the connection dead when nothing arrived in the
// half keepalive after that: a half-open connection is found within 1.5
// times the keepalive. A timer that fires late (a throttled background
// tab) only delays the ping; it never counts against the broker.
type pinger struct {
	start        time.Time    // when the pinger was made
	lastSent     atomic.Int64 // since start, a time.Duration
	lastReceived atomic.Int64 // since start, a time.Duration
	onDead       func(error)  // called before Run returns its error
	holding      func() bool  // reports reads held back on purpose; may be nil
}

// newPinger returns the pinger of a new connection; it tells onDead why
// it gave up on it, and asks holding whether reads are held back on
// purpose. Either may be nil.
func newPinger(onDead func(error), holding func() bool) *pinger {
	return &pinger{start: time.Now(), onDead: onDead, holding: holding}
}

func (p *pinger) Run(ctx context.Context, conn net.Conn, keepAlive uint16) error {
	if keepAlive == 0 {
		return nil
	}
	interval := time.Duration(keepAlive) * time.Second
	grace := interval / 2
	p.PacketSent()
	p.PacketReceived()

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
			sent := p.start.Add(time.Duration(p.lastSent.Load()))
			received := p.start.Add(time.Duration(p.lastReceived.Load()))
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

func (p *pinger) PacketSent() { p.lastSent.Store(int64(time.Since(p.start))) }

func (p *pinger) PacketReceived() { p.lastReceived.Store(int64(time.Since(p.start))) }

func (p *pinger) PingResp() {}

func (p *pinger) SetDebug(log.Logger) {}
