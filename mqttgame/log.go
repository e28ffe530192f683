package mqttgame

import (
	"context"
	"fmt"
	"log/slog"
)

// pahoLogger passes paho's log lines to slog at one level.
type pahoLogger struct {
	log   *slog.Logger
	level slog.Level
	from  string
}

func (l pahoLogger) Println(v ...any) {
	if l.log.Enabled(context.Background(), l.level) {
		l.log.Log(context.Background(), l.level, fmt.Sprint(v...), "from", l.from)
	}
}

func (l pahoLogger) Printf(format string, v ...any) {
	if l.log.Enabled(context.Background(), l.level) {
		l.log.Log(context.Background(), l.level, fmt.Sprintf(format, v...), "from", l.from)
	}
}
