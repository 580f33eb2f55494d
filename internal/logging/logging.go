// Package logging builds the logger of `run`, and keeps its level as the configuration in effect
// says: JSON lines by default, console on request.
package logging

import (
	"io"

	"go.uber.org/zap"
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
	enc := zapcore.NewJSONEncoder(encCfg)
	if c.Format == "console" {
		enc = zapcore.NewConsoleEncoder(encCfg)
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
