// Package reload applies a configuration to every part of purgewatch at once, after
// Alertmanager's config coordinator: the file is read and validated once, each component then
// checks and builds its part without changing anything, and only when every one has agreed does
// each put its part in effect. A reload applies everywhere or nowhere, one at a time.
package reload

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/config"
)

// Component is one part of purgewatch a configuration steers.
type Component interface {
	// Prepare checks what next asks of the component and builds it, changing nothing that is in
	// effect; the apply it returns puts it in effect and cannot fail. old is the configuration in
	// effect.
	Prepare(old, next *config.Config) (apply func(), err error)
}

// Func makes a Component of a function.
type Func func(old, next *config.Config) (func(), error)

// Prepare calls f.
func (f Func) Prepare(old, next *config.Config) (func(), error) { return f(old, next) }

// Coordinator holds the configuration in effect and replaces it on Reload.
type Coordinator struct {
	load   func() (*config.Config, error)
	log    *zap.Logger
	result func(ok bool, at time.Time) // told of each reload's outcome (the reload metrics)

	mu      sync.Mutex // one reload at a time, and the fields below
	current *config.Config
	parts   []Component
}

// New returns a Coordinator whose configuration in effect is current; load reads the file again.
func New(current *config.Config, load func() (*config.Config, error), log *zap.Logger, result func(ok bool, at time.Time)) *Coordinator {
	if log == nil {
		log = zap.NewNop()
	}
	if result == nil {
		result = func(bool, time.Time) {}
	}
	return &Coordinator{load: load, log: log, result: result, current: current}
}

// Register adds components; each reload prepares them in this order.
func (c *Coordinator) Register(parts ...Component) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.parts = append(c.parts, parts...)
}

// Config is the configuration in effect.
func (c *Coordinator) Config() *config.Config {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.current
}

// Reload reads the configuration again and applies it everywhere, or, when the file or any
// component refuses it, nowhere: the configuration in effect stays, and the error says why.
func (c *Coordinator) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	next, err := c.load()
	if err == nil {
		err = guard(c.current, next)
	}
	var applies []func()
	for _, p := range c.parts {
		if err != nil {
			break
		}
		var apply func()
		if apply, err = p.Prepare(c.current, next); apply != nil {
			applies = append(applies, apply)
		}
	}
	if err != nil {
		c.log.Error("configuration reload refused; keeping the one in effect", zap.Error(err))
		c.result(false, time.Now())
		return err
	}
	for _, apply := range applies {
		apply()
	}
	c.log.Info("configuration reloaded", changes(c.current, next)...)
	c.current = next
	c.result(true, time.Now())
	return nil
}

// ErrEmpty refuses a reload that reads an empty file: a file truncated mid-write would
// otherwise turn off everything that differs from the defaults.
var ErrEmpty = errors.New("the configuration file is empty: refused, as a file caught mid-write would turn everything off")

// guard refuses what is far likelier an accident than a wish.
func guard(old, next *config.Config) error {
	if next.Empty() {
		return ErrEmpty
	}
	if len(old.Notify.Channels) > 0 && len(next.Notify.Channels) == 0 && !next.ChannelsExplicit() {
		return fmt.Errorf("the configuration drops every notification channel (%s): refused; write `notify: {channels: []}` to mean it",
			names(old.Notify.Channels))
	}
	return nil
}

// changes are the log fields that say what a reload changed.
func changes(old, next *config.Config) []zap.Field {
	var added, removed []string
	for _, ch := range next.Notify.Channels {
		if !hasChannel(old, ch.Name) {
			added = append(added, ch.Name)
		}
	}
	for _, ch := range old.Notify.Channels {
		if !hasChannel(next, ch.Name) {
			removed = append(removed, ch.Name)
		}
	}
	fields := []zap.Field{zap.String("schedule", next.Scan.Schedule)}
	if old.Scan.Schedule != next.Scan.Schedule {
		fields = append(fields, zap.String("scheduleWas", old.Scan.Schedule))
	}
	if len(added) > 0 {
		fields = append(fields, zap.Strings("channelsAdded", added))
	}
	if len(removed) > 0 {
		fields = append(fields, zap.Strings("channelsRemoved", removed))
	}
	if !slices.Equal(old.Azure.Subscriptions, next.Azure.Subscriptions) || !slices.Equal(old.Azure.ExcludeSubscriptions, next.Azure.ExcludeSubscriptions) {
		fields = append(fields, zap.Strings("subscriptions", next.Azure.Subscriptions), zap.Strings("excludeSubscriptions", next.Azure.ExcludeSubscriptions))
	}
	return fields
}

func hasChannel(c *config.Config, name string) bool {
	return slices.ContainsFunc(c.Notify.Channels, func(ch config.Channel) bool { return ch.Name == name })
}

func names(chs []config.Channel) string {
	out := make([]string, len(chs))
	for i, ch := range chs {
		out[i] = ch.Name
	}
	return fmt.Sprint(out)
}
