package mqttgame

import (
	"fmt"
	"time"
	"unicode/utf8"
	"unsafe"
)

// UserProperty is an MQTT v5 user property: a name and value pair sent
// with a message. Names may repeat.
type UserProperty struct {
	Key, Value string
}

// Message is an MQTT message: one the client received, or one to send with
// PublishMessage.
type Message struct {
	Topic string

	// Payload is the message body, byte for byte. A received Payload is
	// shared with the string LastMessage returns and must not be modified;
	// copy it (bytes.Clone) to keep a changed version.
	Payload []byte

	QoS    QoS
	Retain bool // set on a received message when the broker sent it from its retained store

	// MQTT v5 properties. All optional.
	ContentType     string         // a MIME type, e.g. "application/json"
	ResponseTopic   string         // where a reply should go (request/response)
	CorrelationData []byte         // matches a reply to its request
	UserProperties  []UserProperty // application-defined name/value pairs
	PayloadUTF8     bool           // the payload format indicator: the payload is UTF-8 text
	// Expiry is the message expiry interval: on a message to send, how long
	// the broker may keep it for subscribers that have not received it yet;
	// on a received message, what is left of it. Whole seconds; 0 means none.
	Expiry time.Duration

	// SubscriptionID is the identifier of the subscription that matched
	// a received message, if the subscription set one. Ignored on publish.
	SubscriptionID int
}

// Text returns the payload as a string without copying it.
func (m *Message) Text() string { return bytesString(m.Payload) }

// bytesString shares b's memory; b must never change afterwards.
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// checkProperties applies MQTT's length and encoding rules to the v5
// properties a game can set.
func checkProperties(contentType, responseTopic string, correlation []byte, user []UserProperty) error {
	if err := checkUTF8("content type", contentType); err != nil {
		return err
	}
	if responseTopic != "" {
		if err := ValidateTopic(responseTopic); err != nil {
			return fmt.Errorf("response topic: %w", err)
		}
	}
	if len(correlation) > MaxTopicLength {
		return fmt.Errorf("correlation data is %d bytes long, over the limit of %d", len(correlation), MaxTopicLength)
	}
	for i, p := range user {
		if err := checkUTF8(fmt.Sprintf("user property %d name", i), p.Key); err != nil {
			return err
		}
		if err := checkUTF8(fmt.Sprintf("user property %d value", i), p.Value); err != nil {
			return err
		}
	}
	return nil
}

func checkUTF8(what, s string) error {
	switch {
	case len(s) > MaxTopicLength:
		return fmt.Errorf("%s is %d bytes long, over the limit of %d", what, len(s), MaxTopicLength)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return fmt.Errorf("%s contains the NUL character U+0000", what)
		}
	}
	return nil
}

// publishSize returns the size in bytes of the PUBLISH packet that carries m,
// as the broker's maximum packet size counts it.
func publishSize(m *Message) int {
	props := 0
	if m.PayloadUTF8 {
		props += 2
	}
	if m.Expiry > 0 {
		props += 5
	}
	if m.ContentType != "" {
		props += 3 + len(m.ContentType)
	}
	if m.ResponseTopic != "" {
		props += 3 + len(m.ResponseTopic)
	}
	if len(m.CorrelationData) > 0 {
		props += 3 + len(m.CorrelationData)
	}
	for _, p := range m.UserProperties {
		props += 5 + len(p.Key) + len(p.Value)
	}
	remaining := 2 + len(m.Topic) + varintSize(props) + props + len(m.Payload)
	if m.QoS > 0 {
		remaining += 2
	}
	return 1 + varintSize(remaining) + remaining
}

// varintSize is the length of n as an MQTT variable byte integer.
func varintSize(n int) int {
	switch {
	case n < 128:
		return 1
	case n < 16384:
		return 2
	case n < 2097152:
		return 3
	}
	return 4
}

// maxRemainingLength is the largest remaining length MQTT can encode.
const maxRemainingLength = 268435455
