package plugin

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// newHCLogHandler returns a slog handler writing the JSON lines go-plugin's
// host parses (@level, @message, @timestamp), so a connector logs with
// plain log/slog and its lines reach the host's logger at their level.
func newHCLogHandler(w io.Writer) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String("@timestamp", a.Value.Time().Format("2006-01-02T15:04:05.000000Z07:00"))
			case slog.LevelKey:
				return slog.String("@level", strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}

// hclogToSlog returns an hclog logger whose output is re-emitted into l,
// with the plugin's fields as attributes: go-plugin logs a plugin's stderr
// through hclog, and the engine logs with slog.
func hclogToSlog(l *slog.Logger) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{
		Output:     &slogWriter{l: l},
		JSONFormat: true,
		Level:      hclog.Info,
	})
}

type slogWriter struct {
	mu sync.Mutex
	l  *slog.Logger
}

func (w *slogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			w.l.Info(line)
			continue
		}
		msg, _ := m["@message"].(string)
		lvl := slog.LevelInfo
		switch m["@level"] {
		case "trace", "debug":
			lvl = slog.LevelDebug
		case "warn":
			lvl = slog.LevelWarn
		case "error":
			lvl = slog.LevelError
		}
		attrs := make([]slog.Attr, 0, len(m))
		for k, v := range m {
			if strings.HasPrefix(k, "@") && k != "@module" {
				continue
			}
			if k == "@module" {
				k = "module"
			}
			attrs = append(attrs, slog.Any(k, v))
		}
		w.l.LogAttrs(context.Background(), lvl, msg, attrs...)
	}
	return len(p), nil
}

// ringBuffer keeps the last lines written to it: a plugin's stderr, for
// the crash report.
type ringBuffer struct {
	mu      sync.Mutex
	lines   []string
	max     int
	partial strings.Builder
}

func newRingBuffer(n int) *ringBuffer { return &ringBuffer{max: n} }

func (r *ringBuffer) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := string(p)
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			r.partial.WriteString(s)
			break
		}
		r.partial.WriteString(s[:i])
		r.push(r.partial.String())
		r.partial.Reset()
		s = s[i+1:]
	}
	return len(p), nil
}

func (r *ringBuffer) push(line string) {
	if len(r.lines) == r.max {
		copy(r.lines, r.lines[1:])
		r.lines = r.lines[:r.max-1]
	}
	r.lines = append(r.lines, line)
}

// Lines returns the buffered lines, oldest first.
func (r *ringBuffer) Lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := append([]string(nil), r.lines...)
	if r.partial.Len() > 0 {
		out = append(out, r.partial.String())
	}
	return out
}
