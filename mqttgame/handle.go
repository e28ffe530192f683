package mqttgame

// TopicHandle reads one topic with no lookup: for topics a game reads
// every tick (positions, inputs), it is the cheapest way in. A topic with
// a handle is never forgotten under Options.MaxTopics. Like the Client's
// other tick methods, its methods must be called from the goroutine that
// calls Update.
type TopicHandle struct {
	c *Client
	b *box
}

// Topic returns a handle for a topic name (not a filter). The game still
// has to subscribe to a filter that matches it.
func (c *Client) Topic(name string) (*TopicHandle, error) {
	if err := ValidateTopic(name); err != nil {
		// $-topics may be read, just not published to.
		if len(name) == 0 || name[0] != '$' || checkString(name) != "" || hasWildcard(name) {
			return nil, err
		}
	}
	return &TopicHandle{c: c, b: c.in.pin(name)}, nil
}

// Name returns the topic.
func (h *TopicHandle) Name() string { return h.b.topic }

// OnMessage reports whether a message for the topic became visible this tick.
func (h *TopicHandle) OnMessage() bool { return h.b.shownTick == h.c.in.tick }

// LastMessage returns the payload of the latest visible message, or "".
func (h *TopicHandle) LastMessage() string { return bytesString(h.b.msg.Payload) }

// Message returns the latest visible message and whether there is one.
func (h *TopicHandle) Message() (Message, bool) { return h.b.msg, h.b.has }

// Dropped returns how many messages of the topic were dropped so far, as
// of the last tick that showed one.
func (h *TopicHandle) Dropped() uint64 { return h.b.dropped }

// Release lets the topic be forgotten again; the handle must not be used
// afterwards.
func (h *TopicHandle) Release() {
	if h.b != nil {
		h.c.in.unpin(h.b)
		h.b = nil
	}
}
