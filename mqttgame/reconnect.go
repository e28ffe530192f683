package mqttgame

import (
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// The reconnect policy: what a failed attempt or a lost connection means,
// and how long the connection loop waits before the next attempt. It is
// decided here only.

// backoff is the wait before the next attempt. It counts refusals and
// quick disconnections too, weighted, so a broker that keeps refusing or
// kicking the client sees fewer and fewer attempts.
func (c *Client) backoff() time.Duration {
	if c.route.noWait() {
		return 0
	}
	c.mu.Lock()
	n := c.failures
	c.mu.Unlock()
	var b [2]byte
	_, _ = rand.Read(b[:])
	return backoffDelay(n, c.opts.ReconnectDelay, c.opts.MaxReconnectDelay, float64(int(b[0])<<8|int(b[1]))/65536)
}

// backoffDelay is the wait after n weighted failures: none after none,
// then base doubling per failure up to max, moved by up to ±20% (jitter,
// from 0 to 1), so clients dropped together do not return together.
func backoffDelay(n int, base, max time.Duration, jitter float64) time.Duration {
	if n == 0 {
		return 0
	}
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d - d/5 + time.Duration(float64(d)*2/5*jitter)
}

// Failure weights. A refusal, or a connection the broker ends with a
// failure code before it was stable, counts as three failures, so a
// broker that keeps refusing the client sees at most five attempts in the
// first minute, then about two a minute. A connection that ended by
// itself before it was stable counts as two: a broker that accepts and
// then drops the client within seconds sees about as few.
const (
	networkFailure = 1
	shortLived     = 2
	refusal        = 3
)

// minStable is the least time a connection must hold to count as stable;
// see stableAfter.
const minStable = 30 * time.Second

// stableAfter is how long a connection must hold before its loss starts
// the backoff over: 30 s, and at least two keepalive intervals, so that
// the connection has carried traffic both ways (a ping) and outlived a
// broker that drops clients after a few seconds.
func stableAfter(keepAlive time.Duration) time.Duration {
	return max(minStable, 2*keepAlive)
}

// failuresAfterLoss is the count of weighted failures after a connection
// ended: started over after a stable one (at a refusal's weight if the
// broker ended it with a failure code), grown after one that was not.
func failuresAfterLoss(failures int, stable, kicked, shuttingDown bool) int {
	switch {
	case shuttingDown:
		// A restarting broker: try again at once, then back off while
		// it is away.
		return 0
	case stable && kicked:
		return refusal
	case stable:
		return 0
	case kicked:
		return failures + refusal
	default:
		return failures + shortLived
	}
}

// lost reports a lost connection and decides whether to reconnect: not
// after a session takeover, where reconnecting would push the other client
// off in turn, forever.
func (c *Client) lost() bool {
	c.out.pause()
	c.subs.down()
	c.in.dropHeld()
	c.mu.Lock()
	upFor := time.Since(c.connectedAt)
	c.connectedAt = time.Time{}
	a := c.attempt
	c.mu.Unlock()

	c.route.lost()
	var cause error
	kicked, redirected := false, false
	// Whether a message just sent may have made the broker end the
	// connection: not when the broker said another reason, nor when the
	// client gave up waiting for an answer.
	blame, limit := true, maxSilentStrikes
	if dp := c.sess.lastDisconnect(); dp != nil {
		be := &BrokerError{Op: "disconnect", Code: ReasonCode(dp.ReasonCode)}
		if dp.Properties != nil {
			be.Reason = dp.Properties.ReasonString
			be.ServerReference = dp.Properties.ServerReference
		}
		if isRedirect(be.Code) {
			redirected = c.followRedirect(be) == nil
		}
		// A broker shutting down or timing the client out is not refusing
		// it: reconnect as after a network failure.
		cause, kicked = be, be.Code.IsFailure() && be.Code != ReasonServerShuttingDown && be.Code != ReasonKeepAliveTimeout && !redirected
		blame, limit = be.Code.blamesPacket(), maxStrikes
	} else if a != nil {
		cause = a.firstErr()
		// A broker that broke the protocol is backed off from as one that
		// refuses the client; what the client sent last did not cause it.
		kicked = brokeProtocol(cause)
		blame = !errors.Is(cause, errKeepAlive) && !errors.Is(cause, ErrTimeout) && !kicked
	}
	if upFor < 5*time.Second && blame {
		c.strike(limit)
	}
	stable := upFor >= stableAfter(time.Duration(c.keepAlive.Load()))
	c.mu.Lock()
	c.failures = failuresAfterLoss(c.failures, stable, kicked, errors.Is(cause, ReasonServerShuttingDown) || redirected)
	c.mu.Unlock()

	err := &LostError{Err: cause}
	url := c.Broker()
	c.log.Warn("mqttgame: connection lost", "broker", url, "err", err)
	c.ev.emitAlways(Event{Kind: EventConnectionLost, URL: url, Err: err})
	if errors.Is(cause, ReasonSessionTakenOver) {
		c.log.Warn("mqttgame: not reconnecting: another client took the session over", "clientID", c.ClientID())
		return false
	}
	return true
}

// connectFailed reports a failed attempt: err is why, ca the broker's
// CONNACK if one came.
func (c *Client) connectFailed(err error, ca *paho.Connack) {
	c.mu.Lock()
	a := c.attempt
	c.mu.Unlock()
	url := ""
	if a != nil {
		url = a.url
	}
	weight := networkFailure
	cause := err
	willErr := c.will.refused(cause)
	switch {
	case ca != nil && ca.ReasonCode == byte(ReasonSuccess):
		// The broker accepted; the connection failed right after (paho
		// could not resend what the session holds): a network failure.
	case ca != nil:
		code := ReasonCode(ca.ReasonCode)
		if code < 0x80 {
			code = v3Connack(ca.ReasonCode)
		}
		be := &BrokerError{Op: "connect", Code: code}
		if ca.Properties != nil {
			be.Reason = ca.Properties.ReasonString
		}
		cause, weight = be, refusal
		if isRedirect(code) && a != nil {
			be.ServerReference = a.reference()
			if err := c.followRedirect(be); err != nil {
				cause = fmt.Errorf("%w: %w", err, be)
			} else {
				weight = 0 // the broker answered; the next attempt goes on at once
			}
		}
	case a != nil && brokeProtocol(a.firstErr()):
		// The broker broke the protocol, or is no MQTT v5 broker; the
		// rest followed from it. Retrying soon will not help.
		cause = a.firstErr()
		weight = refusal
	case willErr != nil:
		// Closed without a CONNACK, again and again, with a will set.
		cause, weight = willErr, refusal
	case a != nil && errors.Is(a.firstErr(), ErrNoConnack):
		cause = a.firstErr()
	case errors.Is(err, ErrCredentials):
		weight = refusal
	case isTimeout(err):
		// The connection was closed for the timeout; say so, not what
		// the closing did to the reads.
		cause = fmt.Errorf("%w after %v: %v", ErrTimeout, c.opts.ConnectTimeout, cause)
	}
	c.mu.Lock()
	c.failures += weight
	c.mu.Unlock()
	ce := &ConnectError{URL: url, Err: cause}
	c.log.Warn("mqttgame: connect failed", "broker", url, "err", cause)
	c.ev.emitAlways(Event{Kind: EventConnectFailed, URL: url, Err: ce})
}

// followRedirect sends the next attempt where be, a CONNACK or DISCONNECT
// with ReasonUseAnotherServer or ReasonServerMoved, says; it returns why not when it
// does not.
func (c *Client) followRedirect(be *BrokerError) error {
	from := c.Broker()
	to, err := c.route.refer(be.Code, be.ServerReference)
	if err != nil {
		c.log.Warn("mqttgame: redirect not followed", "broker", from, "code", be.Code, "serverReference", be.ServerReference, "err", err)
		return err
	}
	lasts := "the next attempt"
	if be.Code == ReasonServerMoved {
		lasts = "the rest of the run"
	}
	c.log.Info("mqttgame: redirected", "broker", from, "to", to.Redacted(), "code", be.Code, "for", lasts)
	return nil
}

// strike is called when a connection ended soon after it came up, in a
// way a packet the client sent may have caused. The broker handles
// packets in order, so the oldest one still unanswered is the likely
// cause: either the SUBSCRIBE or UNSUBSCRIBE awaiting its acknowledgement
// or the oldest unacknowledged message, whichever went out first. Only
// that one is struck (see subscriptions.strike and outbox.strike).
func (c *Client) strike(limit int) {
	subAt, sub := c.subs.suspect()
	msgAt, msg := c.out.suspectSince()
	if sub && (!msg || !msgAt.Before(subAt)) {
		c.out.noStrike()
		c.subs.strike(limit)
		c.log.Debug("mqttgame: connection lost right after a subscription request was sent")
		return
	}
	if m, n := c.out.strike(limit); m != nil {
		if n >= limit && m.packetID != 0 {
			c.sess.forget(m.packetID) // failed: paho must not send it again
		}
		c.log.Debug("mqttgame: connection lost right after a message was sent", "topic", m.msg.Topic, "id", m.id, "times", n)
	}
}
