package mqttgame

// tickState is what the game sees until the next Update. It belongs to
// the goroutine that calls Update.
type tickState struct {
	events         []Event
	connected      bool
	justConnected  bool
	justDisconnect bool
	connectFailed  bool
	err            error
	stats          Stats
	subscribed     map[string]QoS
}

func newTickState() tickState {
	return tickState{subscribed: make(map[string]QoS)}
}

// Update makes what arrived since the last tick visible: at most one
// message per topic, the events, the connection state and the counters.
// Call it once at the start of every tick of the game's Update (Ebitengine
// may call Update more than once per drawn frame; each call is a tick).
// It never blocks on the network and allocates nothing in the steady state.
func (c *Client) Update() {
	t := &c.tick
	var dropped uint64
	t.events, dropped = c.ev.swap(t.events)
	t.justConnected, t.justDisconnect, t.connectFailed = false, false, false
	for i := range t.events {
		e := &t.events[i]
		switch e.Kind {
		case EventConnected:
			t.connected, t.justConnected = true, true
			t.stats.Connects++
		case EventConnectionLost, EventDisconnected:
			if t.connected {
				t.justDisconnect = true
			}
			t.connected = false
			clear(t.subscribed)
			if e.Kind == EventConnectionLost {
				t.stats.ConnectionsLost++
			}
		case EventConnectFailed:
			t.connectFailed = true
		case EventSubscribed:
			t.subscribed[e.Topic] = e.QoS
		case EventSubscribeFailed, EventUnsubscribed:
			delete(t.subscribed, e.Topic)
		}
		if e.Err != nil {
			t.err = e.Err
		}
	}
	ic := c.in.update()
	t.stats.Received = ic.received
	t.stats.Shown = ic.shown
	t.stats.Unacked = ic.holding
	t.stats.DroppedReplaced = ic.replaced
	t.stats.DroppedQueueFull = ic.queueFull
	t.stats.DroppedTopicLimit = ic.topicLimit
	t.stats.DroppedBytesLimit = ic.bytesLimit
	t.stats.TopicsForgotten = ic.forgotten
	t.stats.HeldBack = ic.held
	t.stats.Waiting = ic.waiting
	t.stats.WaitingBytes = ic.waitingBytes
	t.stats.BufferedBytes = ic.bufferedBytes
	t.stats.DroppedEvents = dropped
	oc := c.out.counters()
	t.stats.Sent = oc.sent
	t.stats.Delivered = oc.delivered
	t.stats.PublishFailed = oc.failed
	t.stats.Queued = oc.queued
	t.stats.InFlight = oc.inflight
}

// IsConnected reports whether the client was connected as of this tick.
func (c *Client) IsConnected() bool { return c.tick.connected }

// JustConnected reports whether a connection came up this tick (the first
// one, or a reconnection).
func (c *Client) JustConnected() bool { return c.tick.justConnected }

// JustDisconnected reports whether the connection ended this tick, lost
// or by Disconnect.
func (c *Client) JustDisconnected() bool { return c.tick.justDisconnect }

// ConnectFailed reports whether a connection attempt failed this tick;
// Err says why.
func (c *Client) ConnectFailed() bool { return c.tick.connectFailed }

// Err returns the latest error of any tick so far (a failed connection
// attempt, a lost connection, a refused subscription or publish), until
// ClearErr. Match it with errors.Is against ReasonCode values
// (ReasonNotAuthorized, ReasonBadUsernameOrPassword, …) or sentinels (ErrTimeout,
// ErrUnreachable, ErrConnectionLost, ErrNotMQTT, ErrProtocolViolation),
// or errors.As with *BrokerError or *ViolationError.
func (c *Client) Err() error { return c.tick.err }

// ClearErr forgets the current error, once the game has dealt with it.
func (c *Client) ClearErr() { c.tick.err = nil }

// AppendEvents appends the events of this tick to dst and returns it,
// like ebiten.AppendInputChars: pass a reused slice to allocate nothing.
func (c *Client) AppendEvents(dst []Event) []Event { return append(dst, c.tick.events...) }

// Stats returns the client's counters as of this tick.
func (c *Client) Stats() Stats { return c.tick.stats }

// IsSubscribed reports whether the broker has granted a subscription to
// exactly this filter on the current connection, as of this tick.
func (c *Client) IsSubscribed(filter string) bool {
	_, ok := c.tick.subscribed[filter]
	return ok
}

// OnMessage reports whether a message for topic became visible this tick.
// With a filter ("players/+/pos"), it reports whether any topic it matches
// got one. Use AppendMessages to read them all.
func (c *Client) OnMessage(topic string) bool { return c.in.onMessage(topic) }

// LastMessage returns the payload of the latest visible message of topic,
// or "" if none arrived yet. It stays until a newer message of the topic
// becomes visible. With a filter, it returns the newest message of any
// topic the filter matches. An empty retained message (a cleared value)
// reads as "".
func (c *Client) LastMessage(topic string) string {
	if m := c.in.last(topic); m != nil {
		return bytesString(m.Payload)
	}
	return ""
}

// Message returns the latest visible message of topic, with its QoS,
// retain flag and MQTT v5 properties, and whether there is one. With a
// filter, the newest message of any topic it matches.
func (c *Client) Message(topic string) (Message, bool) {
	if m := c.in.last(topic); m != nil {
		return *m, true
	}
	return Message{}, false
}

// AppendMessages appends to dst the messages that became visible this
// tick on topics matching filter ("#" for all but $-topics) and returns
// it. Messages that came through a wildcard or shared subscription are
// kept under their own topic; this is how to read them together.
func (c *Client) AppendMessages(dst []Message, filter string) []Message {
	return c.in.appendShown(dst, filter)
}
