package broker

import "time"

// SetTakeoverWait sets how long a session takeover of the broker that o
// starts waits for messages still routing.
func SetTakeoverWait(o *Options, d time.Duration) {
	o.takeoverWait = d
}
