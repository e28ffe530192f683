package host

import (
	"log/slog"
	"syscall/js"
)

// Start, in the browser, connects to the broker of the server that
// served the page (ws:// or wss:// as the page), unless opts.Broker says
// otherwise.
func Start(opts Options, _ *slog.Logger) (*Host, error) {
	if opts.Broker != "" {
		return external(opts.Broker)
	}
	loc := js.Global().Get("location")
	scheme := "ws://"
	if loc.Get("protocol").String() == "https:" {
		scheme = "wss://"
	}
	host := loc.Get("host").String()
	return &Host{BrokerURL: scheme + host + "/mqtt", WebURL: loc.Get("origin").String() + "/", browser: true}, nil
}

// PageParam returns a parameter of the page's URL ("?name=ann&room=den").
func PageParam(name string) string {
	params := js.Global().Get("URLSearchParams").New(js.Global().Get("location").Get("search"))
	v := params.Call("get", name)
	if v.IsNull() {
		return ""
	}
	return v.String()
}

// HasDisplay is always true in a browser.
func HasDisplay() (bool, string) { return true, "" }
