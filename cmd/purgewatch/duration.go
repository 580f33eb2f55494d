package main

import (
	"fmt"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"
)

// duration is a flag read as Prometheus users write durations: 90m, 72h, 3d, 1w, 1d12h.
type duration time.Duration

func (d *duration) Set(s string) error {
	v, err := model.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 90m, 72h, 3d or 1w", s)
	}
	*d = duration(v)
	return nil
}

func (d *duration) String() string { return model.Duration(*d).String() }

// durationFlag defines a duration flag on cmd.
func durationFlag(cmd *kingpin.CmdClause, name string, value time.Duration, help string) *time.Duration {
	d := duration(value)
	cmd.Flag(name, help).Default(model.Duration(value).String()).PlaceHolder("DURATION").SetValue(&d)
	return (*time.Duration)(&d)
}
