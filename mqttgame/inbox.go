package mqttgame

import (
	"slices"
	"sync"
)

// inbox buffers received messages per topic between the network goroutines
// that stage them and the game's tick that shows them: each tick shows at
// most one message per topic. Everything under "staging" is guarded by mu;
// everything under "view" belongs to the goroutine that calls tick and is
// never touched by another.
type inbox struct {
	mu      sync.Mutex
	arrived arrival // set by put

	// staging
	boxes     map[string]*box // every topic known
	pending   []*box          // topics with waiting messages, oldest first
	created   []*box          // topics made since the last tick, to add to the view
	evicted   []*box          // topics in the view that were forgotten since the last tick
	scratch   []*box          // reused by makeRoom
	released  []ackToken      // reused by update
	rules     []modeRule      // per-subscription data-loss modes
	rulesGen  uint64          // bumped when rules change
	bytes     int             // payload bytes waiting
	heldBytes int             // payload bytes held
	arrival   uint64          // arrival counter, for eviction order
	counts    inboxCounts

	queueSize, maxTopics, maxBytes int
	defaultMode                    DataLoss
	acks                           acker // nil: nothing is ever held
	// overflow is told when more messages are held than a broker may send
	// unacknowledged (true), and when few are again (false); nil: no one
	// is told.
	overflow    func(bool)
	holdLimit   int
	overflowing bool

	// view
	view  map[string]*box
	tick  uint64
	shown []*box // topics that showed a message this tick
}

// inboxCounts are the inbox's running totals.
type inboxCounts struct {
	received     uint64
	replaced     uint64 // dropped: a newer message replaced it (latest wins)
	queueFull    uint64 // dropped: the topic's FIFO queue was full
	topicLimit   uint64 // dropped: MaxTopics reached and no topic could be forgotten
	bytesLimit   uint64 // dropped: MaxBufferedBytes reached
	forgotten    uint64 // topics forgotten to make room
	held         uint64 // QoS 1/2 messages held unacknowledged while their queue was full
	shown        uint64 // messages made visible by a tick
	waiting      int    // messages waiting, over all topics
	holding      int    // messages held now
	waitingBytes int
}

// acker withholds the acknowledgements of held messages; see sessionState.
type acker interface {
	hold(ackToken)
	release(...ackToken)
}

// modeRule gives the data-loss mode of the topics a filter matches.
type modeRule struct {
	filter string
	mode   DataLoss
}

// box holds one topic.
type box struct {
	topic string

	// staging
	q          []staged // ring buffer of waiting messages
	head, n    int
	held       []heldMessage // QoS 1/2 messages not yet accepted, oldest first
	mode       DataLoss
	modeGen    uint64
	queued     bool   // in inbox.pending
	lastActive uint64 // arrival number of the last message
	pins       int    // TopicHandles pointing here; a pinned topic is never forgotten
	drops      uint64 // messages of this topic dropped so far
	inView     bool   // added to inbox.view by a tick
	dead       bool   // forgotten

	// view
	msg       Message // the visible message
	has       bool    // msg is set
	shownTick uint64  // the tick msg became visible
	seq       uint64  // arrival number of msg
	dropped   uint64  // drops as of the last tick that showed a message
}

// heldMessage is a QoS 1 or 2 message whose acknowledgement waits until
// its topic's queue has room, so the broker's flow control holds back the
// rest instead of the client dropping them.
type heldMessage struct {
	msg   Message
	seq   uint64
	token ackToken
}

// ackToken names a received QoS 1 or 2 message whose acknowledgement is
// withheld; 0 means the message cannot be held.
type ackToken uint64

// staged is a waiting message and its arrival number.
type staged struct {
	msg Message
	seq uint64
}

func newInbox(o *Options) *inbox {
	return &inbox{
		boxes:       make(map[string]*box),
		view:        make(map[string]*box),
		queueSize:   o.TopicQueueSize,
		maxTopics:   o.MaxTopics,
		maxBytes:    o.MaxBufferedBytes,
		defaultMode: o.DataLoss,
	}
}

// setRules replaces the per-subscription modes.
func (in *inbox) setRules(rules []modeRule) {
	in.mu.Lock()
	in.rules = rules
	in.rulesGen++
	in.mu.Unlock()
}

// modeOf returns the data-loss mode of b's topic. If several subscriptions
// match, FIFO wins: it loses nothing another mode would keep.
// Called with mu held.
func (in *inbox) modeOf(b *box) DataLoss {
	if b.modeGen == in.rulesGen+1 {
		return b.mode
	}
	mode := DefaultDataLoss
	for _, r := range in.rules {
		if r.mode == DefaultDataLoss || !Match(r.filter, b.topic) {
			continue
		}
		if r.mode == FIFO {
			mode = FIFO
			break
		}
		mode = r.mode
	}
	if mode == DefaultDataLoss {
		mode = in.defaultMode
	}
	b.mode, b.modeGen = mode, in.rulesGen+1
	return mode
}

// put stages a received message. A message with a token (QoS 1 or 2) is
// held when its FIFO queue is full: its acknowledgement is withheld
// (acker.hold) until a tick accepts it (acker.release).
func (in *inbox) put(m Message, token ackToken) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.arrived.set() // under mu: an Update it wakes waits for this put
	in.counts.received++
	in.arrival++
	b := in.boxes[m.Topic]
	if b == nil {
		if !in.makeRoom() {
			in.counts.topicLimit++
			return
		}
		b = &box{topic: m.Topic}
		in.boxes[m.Topic] = b
		in.created = append(in.created, b)
		if len(in.created) > 2*in.maxTopics {
			in.created = slices.DeleteFunc(in.created, func(b *box) bool { return b.dead })
		}
	}
	b.lastActive = in.arrival
	size := len(m.Payload)

	if in.modeOf(b) == LatestWins {
		// Only the newest counts: drop everything waiting.
		for b.n > 0 {
			in.dropHead(b)
			in.counts.replaced++
			b.drops++
		}
		for i, h := range b.held {
			in.heldBytes -= len(h.msg.Payload)
			in.counts.holding--
			in.counts.replaced++
			b.drops++
			// Superseded: acknowledging it loses nothing more.
			in.acks.release(h.token)
			b.held[i] = heldMessage{}
		}
		b.held = b.held[:0]
	} else if b.n >= in.queueSize && (token == 0 || in.acks == nil) {
		in.dropHead(b)
		in.counts.queueFull++
		b.drops++
	}
	if token != 0 && in.acks != nil && (b.n >= in.queueSize || len(b.held) > 0 || !in.fits(size)) {
		// A QoS 1 or 2 message that does not fit is held, unacknowledged:
		// the broker stops at its receive maximum instead of the client
		// dropping anything. Behind held ones it waits its turn.
		in.acks.hold(token)
		b.held = append(b.held, heldMessage{msg: m, seq: in.arrival, token: token})
		in.counts.held++
		in.counts.holding++
		in.heldBytes += size
		in.counts.waitingBytes = in.bytes + in.heldBytes
		in.checkOverflow()
		in.queue(b)
		return
	}
	if !in.fits(size) {
		in.counts.bytesLimit++
		b.drops++
		return
	}
	in.push(b, m, in.arrival)
	in.queue(b)
}

// fits reports whether a payload of size bytes may wait: within
// MaxBufferedBytes, or alone if it is larger. Called with mu held.
func (in *inbox) fits(size int) bool {
	return in.bytes == 0 || in.bytes+size <= in.maxBytes
}

// queue marks b as having something waiting. Called with mu held.
func (in *inbox) queue(b *box) {
	if !b.queued {
		b.queued = true
		in.pending = append(in.pending, b)
	}
}

// push appends m to b's ring, growing it up to queueSize. Called with mu held.
func (in *inbox) push(b *box, m Message, seq uint64) {
	if b.n == len(b.q) {
		size := max(2*len(b.q), 1)
		if b.mode == FIFO {
			size = max(size, 4)
		}
		size = min(size, max(in.queueSize, 1))
		if size <= len(b.q) {
			size = len(b.q) + 1
		}
		q := make([]staged, size)
		for i := 0; i < b.n; i++ {
			q[i] = b.q[(b.head+i)%len(b.q)]
		}
		b.q, b.head = q, 0
	}
	b.q[(b.head+b.n)%len(b.q)] = staged{msg: m, seq: seq}
	b.n++
	in.bytes += len(m.Payload)
	in.counts.waiting++
	in.counts.waitingBytes = in.bytes + in.heldBytes
}

// dropHead removes b's oldest waiting message. Called with mu held.
func (in *inbox) dropHead(b *box) staged {
	s := b.q[b.head]
	b.q[b.head] = staged{}
	b.head = (b.head + 1) % len(b.q)
	b.n--
	in.bytes -= len(s.msg.Payload)
	in.counts.waiting--
	in.counts.waitingBytes = in.bytes + in.heldBytes
	return s
}

// makeRoom forgets the topics idle longest when MaxTopics is reached; a
// topic with waiting messages or a TopicHandle stays. It reports whether a
// new topic fits. Called with mu held.
func (in *inbox) makeRoom() bool {
	if len(in.boxes) < in.maxTopics {
		return true
	}
	c := in.scratch[:0]
	for _, b := range in.boxes {
		if b.pins == 0 && !b.queued {
			c = append(c, b)
		}
	}
	if len(c) == 0 {
		in.scratch = c
		return false
	}
	// Forget a sixteenth at once so the scan is paid rarely.
	k := min(len(c), max(1, in.maxTopics/16))
	slices.SortFunc(c, func(a, b *box) int {
		switch {
		case a.lastActive < b.lastActive:
			return -1
		case a.lastActive > b.lastActive:
			return 1
		}
		return 0
	})
	for _, b := range c[:k] {
		delete(in.boxes, b.topic)
		b.dead = true
		b.q = nil
		if b.inView {
			in.evicted = append(in.evicted, b)
		}
		in.counts.forgotten++
	}
	clear(c)
	in.scratch = c[:0]
	return true
}

// update is the tick: it shows at most one waiting message per topic, and
// releases the held messages it finds room for.
func (in *inbox) update() {
	in.tick++
	clear(in.shown)
	in.shown = in.shown[:0]

	in.mu.Lock()
	for _, b := range in.evicted {
		if in.view[b.topic] == b {
			delete(in.view, b.topic)
		}
		b.msg, b.has = Message{}, false
	}
	clear(in.evicted)
	in.evicted = in.evicted[:0]
	for _, b := range in.created {
		if !b.dead {
			in.view[b.topic] = b
			b.inView = true
		}
	}
	clear(in.created)
	in.created = in.created[:0]

	w := 0
	for _, b := range in.pending {
		if b.n > 0 {
			s := in.dropHead(b)
			in.counts.shown++
			b.msg, b.seq = s.msg, s.seq
			b.has, b.shownTick, b.dropped = true, in.tick, b.drops
			in.shown = append(in.shown, b)
		}
		// Accept held messages while there is room.
		for len(b.held) > 0 && b.n < in.queueSize && in.fits(len(b.held[0].msg.Payload)) {
			h := b.held[0]
			b.held[0] = heldMessage{}
			b.held = b.held[1:]
			in.heldBytes -= len(h.msg.Payload)
			in.counts.holding--
			in.push(b, h.msg, h.seq)
			in.released = append(in.released, h.token)
		}
		if b.n > 0 || len(b.held) > 0 {
			in.pending[w] = b
			w++
		} else {
			b.queued = false
		}
	}
	clear(in.pending[w:])
	in.pending = in.pending[:w]
	if len(in.released) > 0 {
		in.acks.release(in.released...)
		in.released = in.released[:0]
		in.checkOverflow()
	}
	in.mu.Unlock()
}

// checkOverflow tells overflow when the held messages pass holdLimit, and
// again when they are back to half of it. A broker may not send more QoS
// 1 and 2 messages than the receive maximum without acknowledgements, so
// passing it means the broker ignores it. Called with mu held.
func (in *inbox) checkOverflow() {
	if in.overflow == nil {
		return
	}
	switch {
	case !in.overflowing && in.counts.holding > in.holdLimit:
		in.overflowing = true
		in.overflow(true)
	case in.overflowing && in.counts.holding <= in.holdLimit/2:
		in.overflowing = false
		in.overflow(false)
	}
}

// dropHeld forgets held messages when their connection is gone: the broker
// sends them again if the session lives on. Network side.
func (in *inbox) dropHeld() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, b := range in.pending {
		clear(b.held)
		b.held = b.held[:0]
	}
	in.heldBytes = 0
	in.counts.holding = 0
	in.counts.waitingBytes = in.bytes
	in.checkOverflow()
}

// counters returns the running totals. Network side.
func (in *inbox) counters() inboxCounts {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.counts
}

// pin returns the box for topic, creating it, and keeps it from being
// forgotten. Tick side.
func (in *inbox) pin(topic string) *box {
	in.mu.Lock()
	b := in.boxes[topic]
	if b == nil {
		b = &box{topic: topic}
		in.boxes[topic] = b
	}
	b.pins++
	if !b.inView {
		b.inView = true
		in.view[topic] = b
	}
	in.mu.Unlock()
	return b
}

// unpin releases a box pinned with pin. Tick side.
func (in *inbox) unpin(b *box) {
	in.mu.Lock()
	b.pins--
	in.mu.Unlock()
}

// find returns the visible box of a topic. Tick side.
func (in *inbox) find(topic string) *box {
	return in.view[topic]
}

// onMessage reports whether a message for topic became visible this tick;
// a filter matches any topic it covers. Tick side.
func (in *inbox) onMessage(topic string) bool {
	if b := in.view[topic]; b != nil {
		return b.shownTick == in.tick
	}
	if !hasWildcard(topic) {
		return false
	}
	for _, b := range in.shown {
		if Match(topic, b.topic) {
			return true
		}
	}
	return false
}

// last returns the latest visible message of topic, or for a filter the
// latest to arrive of the topics it matches. Tick side.
func (in *inbox) last(topic string) *Message {
	if b := in.view[topic]; b != nil {
		if b.has {
			return &b.msg
		}
		return nil
	}
	if !hasWildcard(topic) {
		return nil
	}
	return in.lastMatching(topic)
}

// lastMatching is last for a filter. It is a function of its own because
// ranging over a map puts an iterator on the stack, which every call of
// last would otherwise pay to clear. Tick side.
func (in *inbox) lastMatching(filter string) *Message {
	var best *box
	for _, b := range in.view {
		if b.has && (best == nil || b.seq > best.seq) && Match(filter, b.topic) {
			best = b
		}
	}
	if best == nil {
		return nil
	}
	return &best.msg
}

// appendShown appends the messages made visible this tick whose topic
// matches filter ("#" for all), in topic arrival order. Tick side.
func (in *inbox) appendShown(dst []Message, filter string) []Message {
	for _, b := range in.shown {
		if filter == "#" && b.topic != "" && b.topic[0] != '$' || Match(filter, b.topic) {
			dst = append(dst, b.msg)
		}
	}
	return dst
}
