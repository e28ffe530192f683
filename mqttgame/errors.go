package mqttgame

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Errors to match with errors.Is.
var (
	// ErrInvalidTopic: a topic name breaks a rule of MQTT (see ValidateTopic).
	ErrInvalidTopic = errors.New("mqttgame: invalid topic")
	// ErrInvalidFilter: a subscription filter breaks a rule of MQTT (see ValidateFilter).
	ErrInvalidFilter = errors.New("mqttgame: invalid filter")
	// ErrInvalidQoS: a QoS outside 0..2, or above what the broker supports.
	ErrInvalidQoS = errors.New("mqttgame: invalid QoS")
	// ErrPayloadTooLarge: a message, or a filter to subscribe to or
	// unsubscribe from, that would not fit the broker's maximum packet
	// size (see LimitError).
	ErrPayloadTooLarge = errors.New("mqttgame: message too large")
	// ErrRetainUnavailable: a retained publish to a broker that has no retained messages.
	ErrRetainUnavailable = errors.New("mqttgame: broker does not support retained messages")
	// ErrOutboxFull: Publish was called while Options.OutboxSize messages were
	// already waiting; nothing was queued.
	ErrOutboxFull = errors.New("mqttgame: outbox full")
	// ErrClosed: the client was closed with Close.
	ErrClosed = errors.New("mqttgame: client closed")
	// ErrBadOption: an option out of range (see OptionError).
	ErrBadOption = errors.New("mqttgame: bad option")
	// ErrTimeout: a connection attempt or an acknowledgement (SUBACK,
	// UNSUBACK, PUBACK, PUBCOMP) took longer than allowed.
	ErrTimeout = errors.New("mqttgame: timed out")
	// ErrUnreachable: the broker could not be reached (refused, name not
	// found, network down, TLS failure).
	ErrUnreachable = errors.New("mqttgame: broker unreachable")
	// ErrConnectionLost: an established connection ended without the game asking.
	ErrConnectionLost = errors.New("mqttgame: connection lost")
	// ErrPacketTooLarge: the broker sent a packet larger than Options.MaxPacketSize;
	// the connection was dropped before reading it.
	ErrPacketTooLarge = errors.New("mqttgame: incoming packet too large")
	// ErrMalformedPacket: the broker sent bytes that are not a valid MQTT packet.
	ErrMalformedPacket = errors.New("mqttgame: malformed packet")
	// ErrProtocolViolation: the broker sent a packet MQTT v5 forbids (see
	// ViolationError); the client closed the connection.
	ErrProtocolViolation = errors.New("mqttgame: protocol violation")
	// ErrNotMQTT: the server answered the CONNECT with something other than
	// an MQTT v5 CONNACK: it is not an MQTT broker, or one that speaks only
	// MQTT 3.1.1 (then the error also matches ReasonUnsupportedProtocolVersion).
	ErrNotMQTT = errors.New("mqttgame: not an MQTT v5 broker")
	// ErrNoConnack: the server closed the connection without answering the
	// CONNECT. A broker for MQTT 3.1.1 only may do so, as may one starting
	// or stopping, or a proxy with no broker behind it. It also matches
	// ErrUnreachable.
	ErrNoConnack = errors.New("mqttgame: the server closed the connection without answering CONNECT")
	// ErrDropsConnection: the broker ended the connection each time a
	// message, SUBSCRIBE or UNSUBSCRIBE was sent, so the client gave up on
	// it: it breaks a limit the broker did not announce (size, topic,
	// permission). Only an end the packet may have caused counts: a broker
	// that closes silently or says a packet was at fault, not one shutting
	// down or timing out.
	ErrDropsConnection = errors.New("mqttgame: the broker drops the connection whenever this message is sent")
	// ErrWillRefused: the broker closed the connection at the CONNECT,
	// without a CONNACK, on three attempts in a row, which is what a
	// broker does with a will larger than its maximum packet size. The
	// error names the will's topic and the sizes; the client goes on
	// trying, slowly.
	ErrWillRefused = errors.New("mqttgame: the broker closes the connection at every CONNECT with the will")
	// ErrTooManyRedirects: brokers sent the client elsewhere (Use another
	// server, Server moved) more than 3 times in a row with no connection
	// coming up; the last one was not followed, and the next attempt goes
	// back to Options.Brokers, after the back-off wait. The error also
	// matches the last broker's reason code.
	ErrTooManyRedirects = errors.New("mqttgame: too many redirects")
	// ErrCredentials: Options.Credentials failed, or gave a user name or
	// password too long for MQTT; the attempt was not made. The error
	// wraps the function's own.
	ErrCredentials = errors.New("mqttgame: no credentials")
)

// OptionError reports an option New refused, and why: a value out of
// range, or a broker URL that cannot be used.
type OptionError struct {
	Option string // the field of Options, such as "Brokers"
	Value  string // the refused value, when it helps: a URL, with any password removed
	Reason string
}

// Error names the option, the value if any, and why it was refused.
func (e *OptionError) Error() string {
	if e.Value != "" {
		return fmt.Sprintf("mqttgame: bad option %s %q: %s", e.Option, e.Value, e.Reason)
	}
	return fmt.Sprintf("mqttgame: bad option %s: %s", e.Option, e.Reason)
}

// Is makes an OptionError match ErrBadOption.
func (e *OptionError) Is(target error) bool { return target == ErrBadOption }

// LimitError reports a publish, subscribe or unsubscribe refused because
// it breaks a limit: the payload or packet size, the QoS, or retain support.
// It matches ErrPayloadTooLarge, ErrInvalidQoS or ErrRetainUnavailable
// with errors.Is.
type LimitError struct {
	Op    string // "publish" (also when empty), "subscribe" or "unsubscribe"
	Topic string // the topic or filter
	Limit error  // ErrPayloadTooLarge, ErrInvalidQoS or ErrRetainUnavailable
	Got   int    // the offending value: packet size in bytes, or QoS
	Max   int    // the limit it broke
	What  string // what the limit is, in words
}

// Error names the operation, the topic, the value and the limit it broke.
func (e *LimitError) Error() string {
	var op string
	switch e.Op {
	case "subscribe":
		op = "subscribe to"
	case "unsubscribe":
		op = "unsubscribe from"
	default:
		op = "publish to"
	}
	return fmt.Sprintf("mqttgame: cannot %s %s: %s is %d, %s is %d", op, quoteShort(e.Topic), e.What, e.Got, limitName(e.Limit), e.Max)
}

func limitName(err error) string {
	switch err {
	case ErrPayloadTooLarge:
		return "the maximum"
	case ErrInvalidQoS:
		return "the highest allowed"
	}
	return "the limit"
}

// Unwrap returns the sentinel the limit matches.
func (e *LimitError) Unwrap() error { return e.Limit }

// ReasonCode is an MQTT v5 reason code, sent by the broker in CONNACK,
// SUBACK, UNSUBACK, PUBACK, PUBREC and DISCONNECT. Codes from 0x80 up are
// failures. A ReasonCode is an error, so errors.Is(err, mqttgame.ReasonNotAuthorized)
// tells whether the broker refused something for that reason.
type ReasonCode byte

// The MQTT v5 reason codes a game is likely to meet.
const (
	ReasonSuccess                     ReasonCode = 0x00
	ReasonGrantedQoS1                 ReasonCode = 0x01
	ReasonGrantedQoS2                 ReasonCode = 0x02
	ReasonDisconnectWithWill          ReasonCode = 0x04
	ReasonNoMatchingSubscribers       ReasonCode = 0x10
	ReasonNoSubscriptionExisted       ReasonCode = 0x11
	ReasonUnspecifiedError            ReasonCode = 0x80
	ReasonMalformedPacket             ReasonCode = 0x81
	ReasonProtocolError               ReasonCode = 0x82
	ReasonImplementationSpecificError ReasonCode = 0x83
	ReasonUnsupportedProtocolVersion  ReasonCode = 0x84
	ReasonClientIDNotValid            ReasonCode = 0x85
	ReasonBadUsernameOrPassword       ReasonCode = 0x86
	ReasonNotAuthorized               ReasonCode = 0x87
	ReasonServerUnavailable           ReasonCode = 0x88
	ReasonServerBusy                  ReasonCode = 0x89
	ReasonBanned                      ReasonCode = 0x8A
	ReasonServerShuttingDown          ReasonCode = 0x8B
	ReasonBadAuthenticationMethod     ReasonCode = 0x8C
	ReasonKeepAliveTimeout            ReasonCode = 0x8D
	ReasonSessionTakenOver            ReasonCode = 0x8E
	ReasonTopicFilterInvalid          ReasonCode = 0x8F
	ReasonTopicNameInvalid            ReasonCode = 0x90
	ReasonPacketIDInUse               ReasonCode = 0x91
	ReasonPacketIDNotFound            ReasonCode = 0x92
	ReasonReceiveMaximumExceeded      ReasonCode = 0x93
	ReasonTopicAliasInvalid           ReasonCode = 0x94
	ReasonPacketTooLarge              ReasonCode = 0x95
	ReasonMessageRateTooHigh          ReasonCode = 0x96
	ReasonQuotaExceeded               ReasonCode = 0x97
	ReasonAdministrativeAction        ReasonCode = 0x98
	ReasonPayloadFormatInvalid        ReasonCode = 0x99
	ReasonRetainNotSupported          ReasonCode = 0x9A
	ReasonQoSNotSupported             ReasonCode = 0x9B
	ReasonUseAnotherServer            ReasonCode = 0x9C
	ReasonServerMoved                 ReasonCode = 0x9D
	ReasonSharedSubNotSupported       ReasonCode = 0x9E
	ReasonConnectionRateExceeded      ReasonCode = 0x9F
	ReasonMaximumConnectTime          ReasonCode = 0xA0
	ReasonSubIDNotSupported           ReasonCode = 0xA1
	ReasonWildcardSubNotSupported     ReasonCode = 0xA2
)

// blamesPacket reports whether a broker that ends a connection with this
// code says a packet the client sent was at fault, as opposed to the
// broker going away, the network, or the client's timing. An
// implementation specific error (0x83) does not: it is what a broker node
// failing says, whatever the client sent last.
func (c ReasonCode) blamesPacket() bool {
	switch c {
	case ReasonUnspecifiedError, ReasonMalformedPacket, ReasonProtocolError,
		ReasonNotAuthorized, ReasonTopicNameInvalid, ReasonTopicAliasInvalid, ReasonPacketTooLarge,
		ReasonPayloadFormatInvalid, ReasonRetainNotSupported, ReasonQoSNotSupported:
		return true
	}
	return false
}

var reasonText = map[ReasonCode]string{
	ReasonSuccess:                     "success",
	ReasonGrantedQoS1:                 "granted QoS 1",
	ReasonGrantedQoS2:                 "granted QoS 2",
	ReasonDisconnectWithWill:          "disconnect with will message",
	ReasonNoMatchingSubscribers:       "no matching subscribers",
	ReasonNoSubscriptionExisted:       "no subscription existed",
	ReasonUnspecifiedError:            "unspecified error",
	ReasonMalformedPacket:             "malformed packet",
	ReasonProtocolError:               "protocol error",
	ReasonImplementationSpecificError: "implementation specific error",
	ReasonUnsupportedProtocolVersion:  "unsupported protocol version",
	ReasonClientIDNotValid:            "client identifier not valid",
	ReasonBadUsernameOrPassword:       "bad user name or password",
	ReasonNotAuthorized:               "not authorized",
	ReasonServerUnavailable:           "server unavailable",
	ReasonServerBusy:                  "server busy",
	ReasonBanned:                      "banned",
	ReasonServerShuttingDown:          "server shutting down",
	ReasonBadAuthenticationMethod:     "bad authentication method",
	ReasonKeepAliveTimeout:            "keep alive timeout",
	ReasonSessionTakenOver:            "session taken over",
	ReasonTopicFilterInvalid:          "topic filter invalid",
	ReasonTopicNameInvalid:            "topic name invalid",
	ReasonPacketIDInUse:               "packet identifier in use",
	ReasonPacketIDNotFound:            "packet identifier not found",
	ReasonReceiveMaximumExceeded:      "receive maximum exceeded",
	ReasonTopicAliasInvalid:           "topic alias invalid",
	ReasonPacketTooLarge:              "packet too large",
	ReasonMessageRateTooHigh:          "message rate too high",
	ReasonQuotaExceeded:               "quota exceeded",
	ReasonAdministrativeAction:        "administrative action",
	ReasonPayloadFormatInvalid:        "payload format invalid",
	ReasonRetainNotSupported:          "retain not supported",
	ReasonQoSNotSupported:             "QoS not supported",
	ReasonUseAnotherServer:            "use another server",
	ReasonServerMoved:                 "server moved",
	ReasonSharedSubNotSupported:       "shared subscriptions not supported",
	ReasonConnectionRateExceeded:      "connection rate exceeded",
	ReasonMaximumConnectTime:          "maximum connect time",
	ReasonSubIDNotSupported:           "subscription identifiers not supported",
	ReasonWildcardSubNotSupported:     "wildcard subscriptions not supported",
}

// String returns the code's name from the MQTT v5 specification and its
// value, as in "not authorized (0x87)".
func (c ReasonCode) String() string {
	if s, ok := reasonText[c]; ok {
		return fmt.Sprintf("%s (0x%02X)", s, byte(c))
	}
	return fmt.Sprintf("reason code 0x%02X", byte(c))
}

// Error makes a ReasonCode usable as the target of errors.Is.
func (c ReasonCode) Error() string { return c.String() }

// IsFailure reports whether the code says something was refused (0x80 and up).
func (c ReasonCode) IsFailure() bool { return c >= 0x80 }

// v3Connack maps the MQTT 3.1.1 CONNACK return codes a v5 client can
// still meet (a 3.1.1 broker answering a v5 CONNECT) to their v5 codes.
func v3Connack(code byte) ReasonCode {
	switch code {
	case 1:
		return ReasonUnsupportedProtocolVersion
	case 2:
		return ReasonClientIDNotValid
	case 3:
		return ReasonServerUnavailable
	case 4:
		return ReasonBadUsernameOrPassword
	case 5:
		return ReasonNotAuthorized
	}
	return ReasonCode(code)
}

// BrokerError is a refusal from the broker: a failure reason code in
// CONNACK, SUBACK, UNSUBACK, PUBACK, PUBREC, or a DISCONNECT it sent.
// errors.Is(err, code) matches its Code.
type BrokerError struct {
	Op     string     // "connect", "subscribe", "unsubscribe", "publish" or "disconnect"
	Topic  string     // the topic or filter concerned, if any
	Code   ReasonCode // the broker's reason code
	Reason string     // the broker's reason string, if it sent one
	// ServerReference is where the broker sends the client, with
	// ReasonUseAnotherServer or ReasonServerMoved, as the broker wrote it.
	ServerReference string
}

// Error says what the broker refused, with its reason code and string.
func (e *BrokerError) Error() string {
	var s string
	switch e.Op {
	case "disconnect":
		s = "mqttgame: broker closed the connection: " + e.Code.String()
	default:
		s = "mqttgame: broker refused " + e.Op
		if e.Topic != "" {
			s += " " + quoteShort(e.Topic)
		}
		s += ": " + e.Code.String()
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.ServerReference != "" {
		s += fmt.Sprintf(" (server reference %q)", e.ServerReference)
	}
	return s
}

// Is matches the error's reason code, so errors.Is(err, mqttgame.ReasonNotAuthorized) works.
func (e *BrokerError) Is(target error) bool {
	c, ok := target.(ReasonCode)
	return ok && c == e.Code
}

// ViolationError reports a packet from the broker that MQTT v5 forbids: a
// PUBLISH with QoS 3, an invalid topic name or an unknown topic alias, a
// second CONNACK, Receive Maximum 0, … The client answered with a
// DISCONNECT carrying Code and closed the connection; the packet reached
// neither the game nor the session, and a message in it was not
// acknowledged. It matches ErrProtocolViolation, Code, and, for a
// malformed packet, ErrMalformedPacket.
type ViolationError struct {
	Packet  string     // the packet: "PUBLISH", "CONNACK", "second CONNACK", …
	Problem string     // what was wrong with it, ending the sentence: "with QoS 3"; "" if its coming was
	Code    ReasonCode // sent in the client's DISCONNECT: ReasonMalformedPacket, ReasonProtocolError or ReasonTopicAliasInvalid
}

// Error names the packet and what was wrong with it.
func (e *ViolationError) Error() string {
	article := "a "
	if strings.HasPrefix(e.Packet, "A") || strings.HasPrefix(e.Packet, "U") {
		article = "an "
	}
	s := "mqttgame: protocol violation: broker sent " + article + e.Packet
	if e.Problem != "" {
		s += " " + e.Problem
	}
	return s
}

// Is matches ErrProtocolViolation, the reason code the client sent, and
// ErrMalformedPacket when that code is ReasonMalformedPacket.
func (e *ViolationError) Is(target error) bool {
	switch target {
	case ErrProtocolViolation:
		return true
	case ErrMalformedPacket:
		return e.Code == ReasonMalformedPacket
	}
	c, ok := target.(ReasonCode)
	return ok && c == e.Code
}

// ConnectError reports a failed attempt to connect to one broker URL. Its
// Err is a *BrokerError when the broker refused the connection; otherwise
// it matches ErrTimeout, ErrUnreachable (ErrNoConnack among them),
// ErrNotMQTT, ErrProtocolViolation, ErrPacketTooLarge, ErrMalformedPacket
// or ErrCredentials. A broker redirecting the client (ReasonUseAnotherServer,
// ReasonServerMoved) fails the attempt too: the next one follows the redirect,
// or, past the bound, the error also matches ErrTooManyRedirects.
type ConnectError struct {
	URL string
	Err error
}

// Error names the broker URL and the cause.
func (e *ConnectError) Error() string {
	return fmt.Sprintf("mqttgame: cannot connect to %s: %v", e.URL, e.Err)
}

// Unwrap returns the cause.
func (e *ConnectError) Unwrap() error { return e.Err }

// Is lets a ConnectError caused by the network match ErrTimeout or ErrUnreachable.
func (e *ConnectError) Is(target error) bool {
	switch target {
	case ErrTimeout:
		return isTimeout(e.Err)
	case ErrUnreachable:
		var be *BrokerError
		return !errors.As(e.Err, &be) && !isTimeout(e.Err) && !brokeProtocol(e.Err) && !errors.Is(e.Err, context.Canceled) &&
			!errors.Is(e.Err, ErrCredentials)
	}
	return false
}

// LostError reports that an established connection ended without the game
// asking. Its Err is a *BrokerError when the broker sent DISCONNECT
// (session taken over, keep alive timeout, server shutting down, …).
// It matches ErrConnectionLost with errors.Is.
type LostError struct {
	Err error
}

// Error says the connection was lost, and why if known.
func (e *LostError) Error() string {
	if e.Err == nil {
		return ErrConnectionLost.Error()
	}
	return ErrConnectionLost.Error() + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *LostError) Unwrap() error { return e.Err }

// Is makes a LostError match ErrConnectionLost.
func (e *LostError) Is(target error) bool { return target == ErrConnectionLost }

// brokeProtocol reports whether err says the broker did not speak MQTT
// v5 as it must (as found by packetConn), rather than the network failing.
func brokeProtocol(err error) bool {
	return errors.Is(err, ErrMalformedPacket) || errors.Is(err, ErrPacketTooLarge) ||
		errors.Is(err, ErrProtocolViolation) || errors.Is(err, ErrNotMQTT)
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
