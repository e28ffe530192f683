package mqttgame

// Stats are a client's counters, as of the last tick. Counts are totals
// since New, except where they say "now".
type Stats struct {
	Received  uint64 // messages that arrived from the broker
	Shown     uint64 // messages made visible by Update
	Sent      uint64 // publishes written to the connection
	Delivered uint64 // publishes done: QoS 0 written, QoS 1 and 2 acknowledged

	PublishFailed uint64 // publishes refused by the broker or a limit
	Queued        int    // publishes waiting to be sent, now
	InFlight      int    // QoS 1 and 2 publishes waiting for the broker, now
	Waiting       int    // received messages waiting to be shown, now
	Unacked       int    // QoS 1 and 2 messages held unacknowledged, now
	WaitingBytes  int    // bytes of the waiting and held messages, as MaxBufferedBytes counts them, now
	BufferedBytes int    // every byte the client holds for the game, as MaxBufferedBytes counts them, now

	DroppedReplaced   uint64 // replaced by a newer message of their topic (LatestWins)
	DroppedQueueFull  uint64 // QoS 0 messages pushed out of a full FIFO queue
	DroppedTopicLimit uint64 // QoS 0 messages that arrived when MaxTopics topics were busy
	DroppedBytesLimit uint64 // QoS 0 messages that arrived when MaxBufferedBytes were held
	DroppedEvents     uint64 // events past EventQueueSize in one tick

	HeldBack        uint64 // QoS 1 and 2 messages ever held back unacknowledged for want of room, or behind one that was
	TopicsForgotten uint64 // idle topics forgotten to stay under MaxTopics and MaxBufferedBytes

	Connects        uint64 // connections that came up
	ConnectionsLost uint64 // connections that ended without the game asking
}

// Every received message is shown, waiting, held or dropped:
// Received == Shown + Waiting + Unacked + Dropped(), at every tick.

// Dropped returns the received messages dropped for any reason.
func (s Stats) Dropped() uint64 {
	return s.DroppedReplaced + s.DroppedQueueFull + s.DroppedTopicLimit + s.DroppedBytesLimit
}
