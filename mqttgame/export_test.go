package mqttgame

// InboxReceived returns how many messages c took from the broker so far,
// without a tick: tests of a game that does not tick wait on it.
func InboxReceived(c *Client) uint64 { return c.in.counters().received }
