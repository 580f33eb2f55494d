// Package logging builds the logger of `run`, and keeps its level as the configuration in effect
// says: JSON lines by default, logfmt (as Prometheus writes) or console on request.
package logging

import (
	"io"

	zaplogfmt "github.com/jsternberg/zap-logfmt"
	"go.uber.org/zap"
	"go.uber.org/zap/buffer"
	"go.uber.org/zap/zapcore"

	"github.com/purgewatch/purgewatch/internal/config"
)

// Level is the logger's level, a reload part: a reload changes it at once. (A changed log.format
// waits for a restart: the logger's encoder is fixed when it is built.)
type Level struct{ level zap.AtomicLevel }

// New builds a logger writing to w as c says, and the Level that steers it.
func New(c config.Log, w io.Writer) (*zap.Logger, Level) {
	l := Level{zap.NewAtomicLevel()}
	_ = l.level.UnmarshalText([]byte(c.Level)) // validated by config
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch c.Format {
	case "console":
		enc = zapcore.NewConsoleEncoder(encCfg)
	case "logfmt": // as the Prometheus stack writes it: ts=… level=info caller=… msg=…
		encCfg.TimeKey, encCfg.MessageKey = "ts", "msg"
		enc = named{zaplogfmt.NewEncoder(encCfg)}
	default:
		enc = zapcore.NewJSONEncoder(encCfg)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), l.level)), l
}

// Prepare is reload.Component's.
func (l Level) Prepare(_, next *config.Config) (func(), error) {
	lvl, err := zapcore.ParseLevel(next.Log.Level)
	if err != nil {
		return nil, err
	}
	return func() { l.level.SetLevel(lvl) }, nil
}

// named puts the logger's name (daemon, notify, web) in each logfmt line as logger=…, which
// zap-logfmt leaves out.
type named struct{ zapcore.Encoder }

func (n named) Clone() zapcore.Encoder { return named{n.Encoder.Clone()} }

func (n named) EncodeEntry(ent zapcore.Entry, fields []zapcore.Field) (*buffer.Buffer, error) {
	if ent.LoggerName != "" {
		fields = append([]zapcore.Field{zap.String("logger", ent.LoggerName)}, fields...)
	}
	return n.Encoder.EncodeEntry(ent, fields)
}
