package mqttgame

import (
	"strings"

	"github.com/eclipse/paho.golang/paho"
)

// brokerFeatures is what the broker's CONNACK said it lacks, of what a
// subscription may need. paho refuses such a subscription itself, with
// an untyped error and for every filter of its SUBSCRIBE; the client
// refuses it alone, with the reason code a broker would have sent.
type brokerFeatures struct {
	noShared, noWildcard, noSubID bool
}

func featuresOf(ca *paho.Connack) *brokerFeatures {
	p := ca.Properties
	if p == nil {
		return &brokerFeatures{}
	}
	return &brokerFeatures{noShared: !p.SharedSubAvailable, noWildcard: !p.WildcardSubAvailable, noSubID: !p.SubIDAvailable}
}

// refusal returns the reason code a subscription needing what the broker
// lacks is refused with, or ReasonSuccess.
func (f *brokerFeatures) refusal(filter string, opts SubscribeOptions) ReasonCode {
	switch {
	case f == nil:
		return ReasonSuccess
	case f.noShared && strings.HasPrefix(filter, "$share/"):
		return ReasonSharedSubNotSupported
	case f.noWildcard && strings.ContainsAny(filter, "+#"):
		return ReasonWildcardSubNotSupported
	case f.noSubID && opts.SubscriptionID != 0:
		return ReasonSubIDNotSupported
	}
	return ReasonSuccess
}

// refusedByConnack is the error of a subscription refused for what the
// broker's CONNACK said it lacks.
func refusedByConnack(filter string, code ReasonCode) error {
	return &BrokerError{Op: "subscribe", Topic: filter, Code: code, Reason: "the broker said so in CONNACK"}
}

// dropUnsupported reports as failed, and removes from ops, the
// subscriptions the broker said it cannot serve.
func (s *subscriptions) dropUnsupported(ops []subOp) []subOp {
	f := s.features.Load()
	kept := ops[:0:0]
	for _, op := range ops {
		code := f.refusal(op.filter, op.opts)
		if code == ReasonSuccess {
			kept = append(kept, op)
			continue
		}
		if s.result(op, code) {
			s.emit(Event{Kind: EventSubscribeFailed, Topic: op.filter, Err: refusedByConnack(op.filter, code)})
		}
	}
	return kept
}
