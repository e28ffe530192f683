package mqttgame

import (
	"context"
	"fmt"
	"time"
)

// watchAcks follows the QoS 1 and 2 messages in flight on conn until ctx
// ends with it. A broker that leaves one unacknowledged for AckTimeout on
// a live connection is treated as a broken connection: the client ends
// it, and the message goes again on the next (see outbox.overdue).
// Without this, such a message would wait for its acknowledgement
// forever, and hold a place in the outbox and in the broker's receive
// maximum.
func (c *Client) watchAcks(ctx context.Context, conn *packetConn) {
	timeout := c.opts.AckTimeout
	t := time.NewTicker(max(timeout/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m, failed := c.out.overdue(timeout, maxAckTimeouts)
		if m == nil {
			continue
		}
		if failed {
			c.sess.forget(m.packetID)
			continue
		}
		err := fmt.Errorf("%w waiting %v for the acknowledgement of message #%d to %s", ErrTimeout, timeout, m.id, quoteShort(m.msg.Topic))
		c.log.Warn("mqttgame: ending the connection: a message was not acknowledged in time", "topic", m.msg.Topic, "id", m.id, "timeout", timeout)
		c.noteErr(err)
		_ = conn.Close()
	}
}
