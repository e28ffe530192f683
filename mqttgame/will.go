package mqttgame

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"

	"github.com/eclipse/paho.golang/paho"
)

// willWatch notices a broker that closes the connection, without a
// CONNACK, at every CONNECT that carries the will. That is what a broker
// does with a CONNECT over its maximum packet size (mochi-mqtt does): it
// cannot announce the limit before the CONNACK, and says nothing. The
// will is then the likely cause, since nothing else in a CONNECT grows
// large; the attempts fail with ErrWillRefused instead of a bare end of
// file, from the maxStrikes-th in a row.
type willWatch struct {
	mu       sync.Mutex
	topic    string // of the will; "" when there is none
	size     int    // of the last CONNECT built, in bytes
	willSize int    // of the will in it
	drops    int    // attempts in a row closed at the CONNECT
}

// built records the CONNECT of the next attempt.
func (w *willWatch) built(cp *paho.Connect) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cp.WillMessage == nil {
		w.topic, w.size, w.willSize = "", 0, 0
		return
	}
	w.topic = cp.WillMessage.Topic
	w.size = connectSize(cp)
	without := *cp
	without.WillMessage, without.WillProperties = nil, nil
	w.willSize = w.size - connectSize(&without)
}

// connected records a connection the broker accepted.
func (w *willWatch) connected() {
	w.mu.Lock()
	w.drops = 0
	w.mu.Unlock()
}

// refused is told why an attempt failed. It returns an error matching
// ErrWillRefused once the broker closed the connection at the CONNECT of
// enough attempts in a row, or nil.
func (w *willWatch) refused(cause error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.topic == "" || !closedByPeer(cause) {
		w.drops = 0
		return nil
	}
	w.drops++
	if w.drops < maxStrikes {
		return nil
	}
	return fmt.Errorf("%w: the will to %s makes the CONNECT %d bytes (%d of them the will), and the broker closed the connection at it %d times in a row (%v): the will may be over its maximum packet size",
		ErrWillRefused, quoteShort(w.topic), w.size, w.willSize, w.drops, cause)
}

// closedByPeer reports whether err says the other side closed the connection.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)
}

// connectSize is the size in bytes of cp as paho encodes it.
func connectSize(cp *paho.Connect) int {
	var n countingWriter
	_, _ = cp.Packet().WriteTo(&n)
	return int(n)
}

type countingWriter int

func (n *countingWriter) Write(p []byte) (int, error) {
	*n += countingWriter(len(p))
	return len(p), nil
}
