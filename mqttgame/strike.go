package mqttgame

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
		c.log.Debug("mqttgame: connection lost right after a message was sent", "topic", m.msg.Topic, "id", m.id, "times", n)
	}
}
