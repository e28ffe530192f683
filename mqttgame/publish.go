package mqttgame

import (
	"bytes"
	"fmt"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// Publish queues a message and returns at once. It checks the topic, the
// QoS and the size first and returns an error naming the problem, or
// ErrOutboxFull when Options.OutboxSize messages are waiting; nothing is
// queued then. Publishing while disconnected queues the message for the
// next connection. The payload is copied. Delivery shows in later ticks
// as EventDelivered (QoS 1 and 2) or EventPublishFailed.
func (c *Client) Publish(topic string, payload []byte, qos QoS, retain bool) (PublishID, error) {
	return c.publish(Message{Topic: topic, Payload: payload, QoS: qos, Retain: retain})
}

// PublishString is Publish with a string payload.
func (c *Client) PublishString(topic, payload string, qos QoS, retain bool) (PublishID, error) {
	return c.publish(Message{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain, PayloadUTF8: false})
}

// PublishMessage is Publish with MQTT v5 properties: content type,
// response topic, correlation data, user properties, payload format,
// expiry. SubscriptionID is ignored.
func (c *Client) PublishMessage(m *Message) (PublishID, error) {
	cp := *m
	cp.SubscriptionID = 0
	cp.UserProperties = append([]UserProperty(nil), m.UserProperties...)
	cp.CorrelationData = bytes.Clone(m.CorrelationData)
	return c.publish(cp)
}

// ClearRetained asks the broker to forget the retained message of topic
// (an empty retained publish at QoS 1).
func (c *Client) ClearRetained(topic string) (PublishID, error) {
	return c.publish(Message{Topic: topic, QoS: AtLeastOnce, Retain: true})
}

func (c *Client) publish(m Message) (PublishID, error) {
	if err := ValidateTopic(m.Topic); err != nil {
		return 0, err
	}
	if m.QoS > ExactlyOnce {
		return 0, fmt.Errorf("%w: %d is not 0, 1 or 2 (publishing to %s)", ErrInvalidQoS, m.QoS, quoteShort(m.Topic))
	}
	if m.Expiry < 0 {
		return 0, fmt.Errorf("mqttgame: cannot publish to %s: negative expiry %v", quoteShort(m.Topic), m.Expiry)
	}
	if err := checkProperties(m.ContentType, m.ResponseTopic, m.CorrelationData, m.UserProperties); err != nil {
		return 0, fmt.Errorf("mqttgame: cannot publish to %s: %w", quoteShort(m.Topic), err)
	}
	m.Payload = bytes.Clone(m.Payload)
	return c.out.add(m)
}

// received takes a PUBLISH the connection read (publishread.go), on the
// goroutine reading it: a QoS 0 message goes to the inbox; a QoS 1 or 2
// message goes through paho's session, which hands it back to deliver
// unless the game has it already.
func (c *Client) received(p *packets.Publish) {
	if p.QoS == 0 {
		c.deliver(p)
		return
	}
	c.sess.received(p, c.deliver)
}

// deliver stages a received message for the next ticks. p is only lent.
func (c *Client) deliver(p *packets.Publish) {
	topic, ok := c.alias.incoming(p)
	if !ok {
		// protocolCheck ends the connection before such a packet gets here.
		c.log.Warn("mqttgame: message dropped: the broker used a topic alias it never set", "alias", *p.Properties.TopicAlias)
		return
	}
	var token ackToken
	if p.QoS > 0 {
		token = c.sess.token(p.PacketID, p.QoS)
	}
	c.in.put(fromPacket(p, topic), token)
}

// toPacket sets p and pr to m as paho's PUBLISH packet. The one
// conversion of an outgoing message.
func toPacket(m *Message, p *packets.Publish, pr *packets.Properties) {
	*pr = packets.Properties{
		ContentType:     m.ContentType,
		ResponseTopic:   m.ResponseTopic,
		CorrelationData: m.CorrelationData,
	}
	if m.PayloadUTF8 {
		pr.PayloadFormat = &utf8Format
	}
	if m.Expiry > 0 {
		secs := uint32((m.Expiry + time.Second - 1) / time.Second)
		pr.MessageExpiry = &secs
	}
	for _, u := range m.UserProperties {
		pr.User = append(pr.User, packets.User{Key: u.Key, Value: u.Value})
	}
	*p = packets.Publish{QoS: byte(m.QoS), Retain: m.Retain, Topic: m.Topic, Payload: m.Payload, Properties: pr}
}

// utf8Format is the Payload Format Indicator of a UTF-8 payload; paho
// only reads it.
var utf8Format = byte(1)

// writeAtMostOnce writes a QoS 0 PUBLISH on l, giving it its topic's
// alias: what paho's PublishWithOptions does for QoS 0, without the
// allocations of its conversions and its PublishResponse.
func (c *Client) writeAtMostOnce(l *link, p *packets.Publish) error {
	c.alias.outgoing(p)
	if _, err := p.WriteTo(l.conn); err != nil {
		return err
	}
	l.ping.PacketSent()
	return nil
}

// fromPacket returns the message p carries, under topic (p's own, or
// the one its alias stands for). The one conversion of a received
// message.
func fromPacket(p *packets.Publish, topic string) Message {
	m := Message{Topic: topic, Payload: p.Payload, QoS: QoS(p.QoS), Retain: p.Retain}
	if pp := p.Properties; pp != nil {
		m.ContentType = pp.ContentType
		m.ResponseTopic = pp.ResponseTopic
		m.CorrelationData = pp.CorrelationData
		m.PayloadUTF8 = pp.PayloadFormat != nil && *pp.PayloadFormat == 1
		if pp.MessageExpiry != nil {
			m.Expiry = time.Duration(*pp.MessageExpiry) * time.Second
		}
		if pp.SubscriptionIdentifier != nil {
			m.SubscriptionID = *pp.SubscriptionIdentifier
		}
		if len(pp.User) > 0 {
			m.UserProperties = make([]UserProperty, len(pp.User))
			for i, u := range pp.User {
				m.UserProperties[i] = UserProperty{Key: u.Key, Value: u.Value}
			}
		}
	}
	return m
}

// pahoUser converts user properties for paho.
func pahoUser(props []UserProperty) paho.UserProperties {
	if len(props) == 0 {
		return nil
	}
	out := make(paho.UserProperties, len(props))
	for i, p := range props {
		out[i] = paho.UserProperty{Key: p.Key, Value: p.Value}
	}
	return out
}
