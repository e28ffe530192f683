package mqttgame

import (
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// inbox buffers received messages per topic between the network goroutines
// that stage them and the game's tick that shows them: each tick shows at
// most one message per topic. Everything under "staging" is guarded by mu;
// everything under "view" belongs to the goroutine that calls tick and is
// never touched by another.
//
// Every byte it holds counts against MaxBufferedBytes (see messageSize and
// topicOverhead): the waiting, held and visible messages, and the topics
// themselves. Past it, idle topics are forgotten; a QoS 0 message that still
// does not fit is dropped, a QoS 1 or 2 message is held.
type inbox struct {
	mu      sync.Mutex
	arrived arrival // set by put

	// staging
	boxes    map[string]*box // every topic known
	pending  []*box          // topics with waiting or held messages, oldest first
	created  []*box          // topics made since the last tick, to add to the view
	evicted  []*box          // topics in the view that were forgotten since the last tick
	scratch  []*box          // reused by forget
	released []ackToken      // reused by update
	rules    []modeRule      // per-subscription data-loss modes
	rulesGen uint64          // bumped when rules change
	// held are the QoS 1 and 2 messages not yet accepted, in arrival
	// order: once one is held, every later one waits behind it, so none
	// is ever shown before one that arrived earlier.
	held    []heldMessage
	arrival uint64 // arrival counter, for eviction order
	counts  inboxCounts

	used         int // bytes held, as MaxBufferedBytes counts them
	freeing      int // of which in forgotten topics the next tick lets go
	waitingBytes int // of which in waiting messages
	heldBytes    int // of which in held messages
	idle         int // topics that may be forgotten: no handle, nothing waiting

	queueSize, maxTopics, maxBytes int
	defaultMode                    DataLoss
	acks                           acker // nil: nothing is ever held
	// overflow is told when more messages are held than a broker may send
	// unacknowledged, or held messages take the inbox past
	// MaxBufferedBytes (true), and when neither is so any more (false);
	// nil: no one is told.
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
	received      uint64
	replaced      uint64 // dropped: a newer message replaced it (latest wins)
	queueFull     uint64 // dropped: the topic's FIFO queue was full
	topicLimit    uint64 // dropped: MaxTopics reached and no topic could be forgotten
	bytesLimit    uint64 // dropped: MaxBufferedBytes reached
	forgotten     uint64 // topics forgotten to make room
	held          uint64 // QoS 1/2 messages held unacknowledged for want of room
	shown         uint64 // messages made visible by a tick
	waiting       int    // messages waiting, over all topics
	holding       int    // messages held now
	waitingBytes  int    // bytes of the waiting and held messages
	bufferedBytes int    // every byte held
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
	heldN      int // messages of this topic in inbox.held
	mode       DataLoss
	modeGen    uint64
	queued     bool   // in inbox.pending
	lastActive uint64 // arrival number of the last message
	pins       int    // TopicHandles pointing here; a pinned topic is never forgotten
	drops      uint64 // messages of this topic dropped so far
	inView     bool   // added to inbox.view by a tick
	dead       bool   // forgotten
	msgBytes   int    // size of msg, set under mu by the tick that shows it

	// view
	msg       Message // the visible message
	has       bool    // msg is set
	shownTick uint64  // the tick msg became visible
	seq       uint64  // arrival number of msg
	dropped   uint64  // drops as of the last tick that showed a message
}

// heldMessage is a QoS 1 or 2 message whose acknowledgement waits until
// the inbox has room for it, so the broker's flow control holds back the
// rest instead of the client dropping them.
type heldMessage struct {
	msg   Message
	seq   uint64
	size  int // messageSize
	token ackToken
	box   *box // nil if the topic had no box and none could be made
}

// ackToken names a received QoS 1 or 2 message whose acknowledgement is
// withheld; 0 means the message cannot be held.
type ackToken uint64

// staged is a waiting message, its arrival number and its size.
type staged struct {
	msg  Message
	seq  uint64
	size int
}

// What the inbox counts for what it holds, beyond the bytes of names,
// properties and payloads. Measured on 64-bit platforms, and rounded up.
const (
	// messageOverhead is a message's share of the slices that list it,
	// and what its variable parts' allocations may round up to beyond
	// allocSize's estimate.
	messageOverhead = 256
	// heldOverhead is what a held message costs on top: its place in the
	// held list (twice, for the list's spare room) and the packet record
	// (Publish, Properties) and pending acknowledgement that paho and the
	// session keep until it is acknowledged.
	heldOverhead = 768
	// topicOverhead is a topic's own record (box), its entries in the
	// maps of topics and visible topics, and its place in the tick's lists.
	topicOverhead = 1024
	// stagedSize is one slot of a topic's queue; a queue keeps the slots
	// it grew to (up to TopicQueueSize), and they count too.
	stagedSize = int(unsafe.Sizeof(staged{}))
	// userPropertySize is a user property's name and value headers, in
	// the message and three times over for paho's slice while it is
	// kept, which grows by doubling.
	userPropertySize = 4 * int(unsafe.Sizeof(UserProperty{}))
)

// messageSize returns the bytes m holds, as MaxBufferedBytes counts them:
// its topic, properties and payload, as allocated, and messageOverhead.
func messageSize(m *Message) int {
	n := messageOverhead + allocSize(len(m.Topic)) + cap(m.Payload) +
		allocSize(len(m.ContentType)) + allocSize(len(m.ResponseTopic)) + cap(m.CorrelationData)
	if len(m.UserProperties) > 0 {
		n += allocSize(cap(m.UserProperties) * userPropertySize)
		for i := range m.UserProperties {
			p := &m.UserProperties[i]
			n += allocSize(len(p.Key)) + allocSize(len(p.Value))
		}
	}
	return n
}

// allocSize is at least the memory the Go runtime allocates for n bytes:
// small objects are rounded up to a size class (at most a quarter more,
// plus 16 bytes), large ones to whole 8 KiB pages.
func allocSize(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= 32<<10:
		return n + n/4 + 16
	}
	return (n + 8<<10 - 1) &^ (8<<10 - 1)
}

// newInbox returns an inbox with the limits of o. It sets arrived (if
// not nil) at each message; with acks (if not nil), it holds QoS 1 and 2
// messages it has no room for, and tells overflow (if not nil) when it
// holds more than holdLimit or past MaxBufferedBytes.
func newInbox(o *Options, arrived arrival, acks acker, holdLimit int, overflow func(bool)) *inbox {
	return &inbox{
		arrived:     arrived,
		acks:        acks,
		holdLimit:   holdLimit,
		overflow:    overflow,
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
// never dropped: when there is no room for it (its topic past MaxTopics,
// its FIFO queue full, MaxBufferedBytes reached), or another is held
// already, it is held and its acknowledgement withheld (acker.hold) until
// a tick accepts it (acker.release).
func (in *inbox) put(m Message, token ackToken) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.arrived.set() // under mu: an Update it wakes waits for this put
	in.counts.received++
	in.arrival++
	size := messageSize(&m)
	canHold := token != 0 && in.acks != nil
	b := in.boxes[m.Topic]
	latest := false
	if b != nil {
		b.lastActive = in.arrival
		if latest = in.modeOf(b) == LatestWins; latest {
			in.dropWaiting(b) // only the newest counts
		}
	}
	if canHold && len(in.held) > 0 {
		if latest {
			in.supersedeHeld(b)
		}
		in.hold(b, m, size, token) // behind the held ones, in order
		return
	}
	fresh := b == nil
	if fresh {
		if !in.makeRoom() {
			if canHold {
				in.hold(nil, m, size, token)
				return
			}
			in.counts.topicLimit++
			return
		}
		b = in.newBox(m.Topic)
		b.lastActive = in.arrival
	}
	if in.modeOf(b) == FIFO && b.n >= in.queueSize {
		if canHold {
			in.hold(b, m, size, token)
			return
		}
		in.dropHead(b)
		in.counts.queueFull++
		b.drops++
	}
	if !in.room(b, size) {
		if canHold {
			if latest {
				in.supersedeHeld(b)
			}
			in.hold(b, m, size, token)
			return
		}
		in.counts.bytesLimit++
		b.drops++
		if fresh {
			in.unmake(b) // an empty topic is no use, and bytes too
		}
		return
	}
	if latest {
		in.supersedeHeld(b)
	}
	in.push(b, m, in.arrival, size)
	in.queue(b)
}

// dropWaiting drops b's waiting messages for a newer one (latest wins).
// Called with mu held.
func (in *inbox) dropWaiting(b *box) {
	for b.n > 0 {
		in.dropHead(b)
		in.counts.replaced++
		b.drops++
	}
}

// supersedeHeld drops b's held messages for a newer one that is kept
// (latest wins): acknowledging them loses nothing more. Called with mu
// held.
func (in *inbox) supersedeHeld(b *box) {
	if b.heldN == 0 {
		return
	}
	in.held = slices.DeleteFunc(in.held, func(h heldMessage) bool {
		if h.box != b {
			return false
		}
		in.unhold(&h)
		in.counts.replaced++
		b.drops++
		in.acks.release(h.token)
		return true
	})
	in.checkOverflow()
}

// hold keeps m, of topic b (nil if it has no box), unacknowledged.
// Called with mu held.
func (in *inbox) hold(b *box, m Message, size int, token ackToken) {
	in.acks.hold(token)
	in.held = append(in.held, heldMessage{msg: m, seq: in.arrival, size: size, token: token, box: b})
	if b != nil {
		b.heldN++
		in.queue(b)
	}
	in.counts.held++
	in.counts.holding++
	in.heldBytes += size + heldOverhead
	in.used += size + heldOverhead
	in.recount()
	in.checkOverflow()
}

// unhold takes h out of the held messages' counts. Called with mu held.
func (in *inbox) unhold(h *heldMessage) {
	if h.box != nil {
		h.box.heldN--
	}
	in.counts.holding--
	in.heldBytes -= h.size + heldOverhead
	in.used -= h.size + heldOverhead
	in.recount()
}

// recount updates the byte counts the game sees. Called with mu held.
func (in *inbox) recount() {
	in.counts.waitingBytes = in.waitingBytes + in.heldBytes
	in.counts.bufferedBytes = in.used
}

// room reports whether size more bytes may be held for b, forgetting
// other idle topics to make room: within MaxBufferedBytes, or alone if
// nothing else waits, so that a message larger than the limit still gets
// through. Called with mu held.
func (in *inbox) room(b *box, size int) bool {
	return in.roomWithin(b, in.maxBytes-size)
}

// roomWithin reports whether the bytes held are within limit, forgetting
// idle topics other than b to make it so, or nothing waits nor waits to be
// let go of by the next tick. Called with mu held.
func (in *inbox) roomWithin(b *box, limit int) bool {
	if in.used <= limit {
		return true
	}
	in.addPins(b, 1) // not b
	in.forget(0, limit)
	in.addPins(b, -1)
	return in.used <= limit || in.waitingBytes == 0 && in.freeing == 0
}

// newBox makes the box of a new topic. Called with mu held. The box keeps
// a copy of topic: a received message's topic shares the memory of its
// packet (publishread.go), which the box must not keep alive.
func (in *inbox) newBox(topic string) *box {
	topic = strings.Clone(topic)
	b := &box{topic: topic}
	in.boxes[topic] = b
	in.created = append(in.created, b)
	if len(in.created) > 2*in.maxTopics {
		in.created = slices.DeleteFunc(in.created, func(b *box) bool { return b.dead })
	}
	in.used += topicOverhead + allocSize(len(topic))
	in.idle++
	in.recount()
	return b
}

// unmake undoes newBox for the topic just made. Called with mu held.
func (in *inbox) unmake(b *box) {
	delete(in.boxes, b.topic)
	in.idle--
	b.dead = true
	in.used -= topicOverhead + allocSize(len(b.topic))
	if i := len(in.created) - 1; i >= 0 && in.created[i] == b {
		in.created[i] = nil
		in.created = in.created[:i]
	}
	in.recount()
}

// forgettable reports whether b may be forgotten: no handle, nothing
// waiting or held.
func (b *box) forgettable() bool { return b.pins == 0 && !b.queued && !b.dead }

// setQueued and addPins change what makes a box forgettable, keeping
// inbox.idle. Called with mu held.
func (in *inbox) setQueued(b *box, queued bool) {
	was := b.forgettable()
	b.queued = queued
	in.idleChanged(was, b.forgettable())
}

func (in *inbox) addPins(b *box, d int) {
	was := b.forgettable()
	b.pins += d
	in.idleChanged(was, b.forgettable())
}

func (in *inbox) idleChanged(was, is bool) {
	switch {
	case was && !is:
		in.idle--
	case !was && is:
		in.idle++
	}
}

// queue marks b as having something waiting or held. Called with mu held.
func (in *inbox) queue(b *box) {
	if !b.queued {
		in.setQueued(b, true)
		in.pending = append(in.pending, b)
	}
}

// push appends m to b's ring, growing it up to queueSize. Called with mu held.
func (in *inbox) push(b *box, m Message, seq uint64, size int) {
	if b.n == len(b.q) {
		n := max(2*len(b.q), 1)
		if b.mode == FIFO {
			n = max(n, 4)
		}
		n = min(n, max(in.queueSize, 1))
		if n <= len(b.q) {
			n = len(b.q) + 1
		}
		q := make([]staged, n)
		for i := 0; i < b.n; i++ {
			q[i] = b.q[(b.head+i)%len(b.q)]
		}
		in.used += (n - len(b.q)) * stagedSize
		b.q, b.head = q, 0
	}
	b.q[(b.head+b.n)%len(b.q)] = staged{msg: m, seq: seq, size: size}
	b.n++
	in.waitingBytes += size
	in.used += size
	in.counts.waiting++
	in.recount()
}

// dropHead removes b's oldest waiting message. Called with mu held.
func (in *inbox) dropHead(b *box) staged {
	s := b.q[b.head]
	b.q[b.head] = staged{}
	b.head = (b.head + 1) % len(b.q)
	b.n--
	in.waitingBytes -= s.size
	in.used -= s.size
	in.counts.waiting--
	in.recount()
	return s
}

// makeRoom forgets the topics idle longest when MaxTopics is reached; a
// topic with waiting or held messages or a TopicHandle stays. It reports
// whether a new topic fits. Called with mu held.
func (in *inbox) makeRoom() bool {
	if len(in.boxes) < in.maxTopics {
		return true
	}
	// Forget a sixteenth at once so the scan is paid rarely.
	in.forget(max(1, in.maxTopics/16), in.used)
	return len(in.boxes) < in.maxTopics
}

// forget forgets the topics idle longest: at least n of them, and more
// until the bytes held are within limit once the next tick lets go of
// them. A forgotten topic's visible message stays until that tick, so
// its bytes count until then. Called with mu held.
func (in *inbox) forget(n, limit int) {
	short := func() bool { return n > 0 || in.used-in.freeing > limit }
	if in.idle == 0 || !short() {
		return
	}
	c := in.scratch[:0]
	for _, b := range in.boxes {
		if b.forgettable() {
			c = append(c, b)
		}
	}
	slices.SortFunc(c, func(a, b *box) int {
		switch {
		case a.lastActive < b.lastActive:
			return -1
		case a.lastActive > b.lastActive:
			return 1
		}
		return 0
	})
	unseen := false
	for _, b := range c {
		if !short() {
			break
		}
		n--
		delete(in.boxes, b.topic)
		in.idle--
		b.dead = true
		in.used -= len(b.q) * stagedSize
		b.q = nil
		cost := topicOverhead + allocSize(len(b.topic)) + b.msgBytes
		if b.inView {
			in.evicted = append(in.evicted, b)
			in.freeing += cost
		} else {
			in.used -= cost
			unseen = true
		}
		in.counts.forgotten++
	}
	if unseen {
		// Let go of them now, not at the next tick, which may be long.
		in.created = slices.DeleteFunc(in.created, func(b *box) bool { return b.dead })
	}
	in.recount()
	clear(c)
	in.scratch = c[:0]
}

// update is the tick: it shows at most one waiting message per topic, and
// accepts the held messages it finds room for, in the order they arrived.
// It returns the running totals as of the tick.
func (in *inbox) update() inboxCounts {
	in.tick++
	clear(in.shown)
	in.shown = in.shown[:0]

	in.mu.Lock()
	for _, b := range in.evicted {
		if in.view[b.topic] == b {
			delete(in.view, b.topic)
		}
		b.msg, b.has = Message{}, false
		cost := topicOverhead + allocSize(len(b.topic)) + b.msgBytes
		b.msgBytes = 0
		in.used -= cost
		in.freeing -= cost
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
			in.used += s.size - b.msgBytes
			b.msgBytes = s.size
			b.msg, b.seq = s.msg, s.seq
			b.has, b.shownTick, b.dropped = true, in.tick, b.drops
			in.shown = append(in.shown, b)
		}
		if b.n == 0 && len(b.q) > 4 {
			// A burst's queue goes with it; a small one stays, so that a
			// steady stream allocates nothing.
			in.used -= len(b.q) * stagedSize
			b.q, b.head = nil, 0
		}
		if b.n > 0 || b.heldN > 0 {
			in.pending[w] = b
			w++
		} else {
			in.setQueued(b, false)
		}
	}
	clear(in.pending[w:])
	in.pending = in.pending[:w]
	in.accept()
	if len(in.released) > 0 {
		in.acks.release(in.released...)
		in.released = in.released[:0]
	}
	in.recount()
	in.checkOverflow()
	counts := in.counts
	in.mu.Unlock()
	return counts
}

// accept moves held messages into their topics' queues while there is
// room, oldest first, stopping at the first that does not fit. Called
// with mu held.
func (in *inbox) accept() {
	k := 0
	for ; k < len(in.held); k++ {
		h := &in.held[k]
		b := h.box
		if b == nil {
			if b = in.boxes[h.msg.Topic]; b == nil {
				if !in.makeRoom() {
					break
				}
				b = in.newBox(h.msg.Topic)
				b.lastActive = h.seq
			}
		}
		mode := in.modeOf(b)
		if mode == FIFO && b.n >= in.queueSize {
			break
		}
		// Held messages are in memory already: it is accepted if the
		// others, and it, fit.
		if !in.roomWithin(b, in.maxBytes+in.heldBytes-h.size) {
			break
		}
		in.unhold(h)
		if mode == LatestWins {
			in.dropWaiting(b)
		}
		in.push(b, h.msg, h.seq, h.size)
		in.queue(b)
		in.released = append(in.released, h.token)
	}
	if k > 0 {
		n := copy(in.held, in.held[k:])
		clear(in.held[n:])
		in.held = in.held[:n]
	}
}

// checkOverflow tells overflow when the held messages pass holdLimit or
// take the inbox past MaxBufferedBytes, and again when they are back to
// half of holdLimit and an eighth under MaxBufferedBytes (or none is
// held). A broker may not send more QoS 1 and 2 messages than the receive
// maximum without acknowledgements, so passing it means the broker
// ignores it; past MaxBufferedBytes, only not reading keeps memory
// bounded. Called with mu held.
func (in *inbox) checkOverflow() {
	if in.overflow == nil {
		return
	}
	switch {
	case !in.overflowing && (in.counts.holding > in.holdLimit || in.heldBytes > 0 && in.used > in.maxBytes):
		in.overflowing = true
		in.overflow(true)
	case in.overflowing && in.counts.holding <= in.holdLimit/2 && (in.heldBytes == 0 || in.used <= in.maxBytes-in.maxBytes/8):
		in.overflowing = false
		in.overflow(false)
	}
}

// dropHeld forgets held messages when their connection is gone: the broker
// sends them again if the session lives on. Network side.
func (in *inbox) dropHeld() {
	in.mu.Lock()
	defer in.mu.Unlock()
	for i := range in.held {
		in.unhold(&in.held[i])
	}
	clear(in.held)
	in.held = in.held[:0]
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
		b = in.newBox(topic)
	}
	in.addPins(b, 1)
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
	in.addPins(b, -1)
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
