package mqttgame

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/eclipse/paho.golang/packets"
)

// encodePublish returns p as paho encodes it, and the size of its fixed
// header.
func encodePublish(t testing.TB, p *packets.Publish) ([]byte, int) {
	t.Helper()
	var b bytes.Buffer
	if _, err := p.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	_, headerSize, ok := remainingLength(b.Bytes())
	if !ok {
		t.Fatal("paho wrote no whole fixed header")
	}
	return b.Bytes(), headerSize
}

// TestPahoReadPacketCost shows what publishread.go leaves out: paho
// v0.23.0's ReadPacket allocates 22 times (and 4.5 KiB) to read a QoS 0
// PUBLISH of 64 bytes (eclipse-paho/paho.golang#320), where the
// connection's own reading allocates twice: the message's copy of the
// packet, and mochi's reader of its properties. When a paho release takes most of the difference away, this
// test fails: hand PUBLISH packets back to paho then, unless the
// hand-over to its router still costs more than it gives.
func TestPahoReadPacketCost(t *testing.T) {
	pkt, headerSize := encodePublish(t, &packets.Publish{Topic: "pos/player-1", Payload: make([]byte, 64), Properties: &packets.Properties{}})
	r := bytes.NewReader(pkt)
	paho := testing.AllocsPerRun(200, func() {
		r.Reset(pkt)
		if _, err := packets.ReadPacket(r); err != nil {
			t.Fatal(err)
		}
	})
	pr := newPublishReader(func(*packets.Publish) {})
	ours := testing.AllocsPerRun(200, func() {
		if err := pr.read(pkt, headerSize); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("allocations to read a QoS 0 PUBLISH: paho's ReadPacket %.0f, the connection's reading %.0f", paho, ours)
	if paho-ours < 8 {
		t.Errorf("paho's ReadPacket allocates %.0f times, the connection's own reading %.0f: see publishread.go", paho, ours)
	}
}

// TestPublishReaderLendsNothingItReuses: the QoS 0 message handed on is
// decoded into the same packets.Publish each time, but what a taker
// keeps of it (as fromPacket does) stays as it was when the next one is
// decoded and the read buffer is reused; a QoS 1 or 2 message is the
// taker's to keep.
func TestPublishReaderLendsNothingItReuses(t *testing.T) {
	t.Parallel()
	expiry, format, subID := uint32(30), byte(1), 7
	first := &packets.Publish{Topic: "chat/a", Payload: []byte("hello"), Properties: &packets.Properties{
		ContentType: "text/plain", ResponseTopic: "reply/a", CorrelationData: []byte{1, 2, 3},
		MessageExpiry: &expiry, PayloadFormat: &format, SubscriptionIdentifier: &subID,
		User: []packets.User{{Key: "k", Value: "v"}},
	}}
	second := &packets.Publish{Topic: "chat/b", Payload: []byte("other"), Properties: &packets.Properties{
		ContentType: "x", CorrelationData: []byte{9}, User: []packets.User{{Key: "k2", Value: "v2"}},
	}}
	third := &packets.Publish{Topic: "chat/c", QoS: 1, PacketID: 5, Payload: []byte("q1"), Properties: &packets.Properties{}}

	var kept []Message
	var taken []*packets.Publish
	pr := newPublishReader(func(p *packets.Publish) {
		kept = append(kept, fromPacket(p, p.Topic))
		taken = append(taken, p)
	})
	// One buffer for every packet, as the connection's read buffer is.
	scratch := make([]byte, 256)
	for _, p := range []*packets.Publish{first, second, third} {
		pkt, headerSize := encodePublish(t, p)
		n := copy(scratch, pkt)
		if err := pr.read(scratch[:n], headerSize); err != nil {
			t.Fatal(err)
		}
		clear(scratch)
	}
	want := Message{Topic: "chat/a", Payload: []byte("hello"), ContentType: "text/plain", ResponseTopic: "reply/a",
		CorrelationData: []byte{1, 2, 3}, Expiry: 30e9, PayloadUTF8: true, SubscriptionID: 7,
		UserProperties: []UserProperty{{Key: "k", Value: "v"}}}
	got := kept[0]
	if got.Topic != want.Topic || !bytes.Equal(got.Payload, want.Payload) || got.ContentType != want.ContentType ||
		got.ResponseTopic != want.ResponseTopic || !bytes.Equal(got.CorrelationData, want.CorrelationData) ||
		got.Expiry != want.Expiry || got.PayloadUTF8 != want.PayloadUTF8 || got.SubscriptionID != want.SubscriptionID ||
		!slices.Equal(got.UserProperties, want.UserProperties) {
		t.Errorf("the first message after two more were decoded:\n got %+v\nwant %+v", got, want)
	}
	if kept[1].Topic != "chat/b" || string(kept[1].Payload) != "other" || kept[1].ContentType != "x" || kept[1].PayloadUTF8 {
		t.Errorf("the second message: %+v", kept[1])
	}
	if taken[0] != taken[1] {
		t.Error("QoS 0 messages are not decoded into the reader's own packet")
	}
	if taken[2] == taken[1] || taken[2].QoS != 1 || taken[2].PacketID != 5 {
		t.Errorf("the QoS 1 message was not the taker's own: %+v", taken[2])
	}
}

// TestPublishReaderRefusesWhatItCannotDecode: a PUBLISH whose body paho's
// decoder refuses ends the connection with ErrMalformedPacket, and
// nothing is handed on.
func TestPublishReaderRefusesWhatItCannotDecode(t *testing.T) {
	t.Parallel()
	pr := newPublishReader(func(*packets.Publish) {
		t.Error("a message was handed on")
	})
	// A topic length of 200 bytes in a 4-byte body.
	err := pr.read([]byte{0x30, 4, 0, 200, 'a', 'b'}, 2)
	if !errors.Is(err, ErrMalformedPacket) {
		t.Fatalf("got %v, want ErrMalformedPacket", err)
	}
}
