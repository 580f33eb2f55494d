package notify

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/purgewatch/purgewatch/internal/config"
	"github.com/purgewatch/purgewatch/internal/state"
)

// minBackoff is the least a failed send waits, whatever notify.retry.initial says: a receiver
// that fails at once is not hammered.
const minBackoff = time.Second

// lane is one channel's delivery: what wakes its worker, the lock that lets one send of its
// messages happen at a time, and the Alertmanager alerts to send again.
type lane struct {
	wake    chan struct{}
	sending sync.Mutex
	// active holds, per source (sourceVersions, sourceScan, sourceConsumed), the alerts still firing; pending is
	// set when a scan asks for them to be sent again. Both are guarded by Notifier.mu.
	active  map[string][]Event
	pending bool
	// unrecorded counts the sends of the head message the state file could not record (a full
	// disk): each is a repeat the receiver has had, so they back off as failures do, from
	// notBefore, which the file could not record either. Guarded by sending.
	unrecorded int
	notBefore  time.Time
}

func (l *lane) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// laneLocked returns the channel's lane, making it; callers hold n.mu.
func (n *Notifier) laneLocked(name string) *lane {
	l, ok := n.lanes[name]
	if !ok {
		l = &lane{wake: make(chan struct{}, 1), active: map[string][]Event{}}
		n.lanes[name] = l
	}
	return l
}

func (n *Notifier) lane(name string) *lane {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.laneLocked(name)
}

// Run delivers until ctx is done, from one worker per channel: a receiver that hangs delays its
// own channel only. Channels added by a reload get a worker; removed ones lose theirs. It returns
// once every worker has stopped.
func (n *Notifier) Run(ctx context.Context) {
	var wg sync.WaitGroup
	running := map[string]context.CancelFunc{}
	defer func() {
		for _, stop := range running {
			stop()
		}
		wg.Wait()
	}()
	for {
		n.mu.Lock()
		names := channelNames(n.s.Channels)
		n.mu.Unlock()
		for _, name := range names {
			if _, ok := running[name]; !ok {
				wctx, stop := context.WithCancel(ctx)
				running[name] = stop
				l := n.lane(name)
				wg.Go(func() { n.work(wctx, name, l) })
			}
		}
		for name, stop := range running {
			if !slices.Contains(names, name) {
				stop()
				delete(running, name)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-n.changed:
		}
	}
}

// Fence is a notification log that replicas share (internal/ha): a send goes out only once the
// log has recorded, under the leader's lease, that it begins. again says a leader before this one
// began it and did not record how it ended: the receiver may have it already.
type Fence interface {
	Attempting(channel string, p *state.Pending) (again bool, err error)
}

// Wake sends what is due on every channel now: a replica that has just taken the lead.
func (n *Notifier) Wake() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, l := range n.lanes {
		l.poke()
	}
}

// work is one channel's worker: it delivers what is due, then sleeps until the next attempt
// falls due or Process wakes it.
func (n *Notifier) work(ctx context.Context, name string, l *lane) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := n.deliverChannel(ctx, name)
		n.refresh(ctx, name)
		n.updateGauges()
		wait := time.Hour
		if !next.IsZero() {
			wait = max(next.Sub(n.clock.Now()), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-timer.C:
		}
	}
}

// deliverAll sends what is due now on every channel, one channel after the other, as the
// workers of Run would; it returns when the next attempt is due (zero when nothing waits). Tests
// deliver through it between the steps of an injected clock.
func (n *Notifier) deliverAll(ctx context.Context) time.Time {
	var next time.Time
	for _, name := range channelNames(n.current().Channels) {
		if at := n.deliverChannel(ctx, name); !at.IsZero() && (next.IsZero() || at.Before(next)) {
			next = at
		}
		n.refresh(ctx, name)
	}
	n.updateGauges()
	return next
}

// deliverChannel sends the channel's messages oldest first until one fails for a reason that may
// pass (it waits for its backoff; the messages behind it keep their order) or none is due. A
// message the receiver refuses for good becomes a dead letter, and the next one goes.
func (n *Notifier) deliverChannel(ctx context.Context, name string) time.Time {
	l := n.lane(name)
	l.sending.Lock()
	defer l.sending.Unlock()
	for ctx.Err() == nil {
		s, ch := n.settings(name)
		if ch == nil {
			return time.Time{} // removed by a reload; its messages wait in the state file
		}
		head, err := n.head(name)
		if err != nil {
			n.log.Error("reading the outbox", zap.String("channel", name), zap.Error(err))
			return time.Time{}
		}
		if head == nil {
			return time.Time{}
		}
		if head.unreadable != nil {
			if !n.buryUnreadable(ch, head) {
				return n.clock.Now().Add(backoff(s.Retry, 1, 0))
			}
			continue
		}
		if at := head.NextAttempt; at.After(n.clock.Now()) {
			return at
		}
		if l.unrecorded > 0 && l.notBefore.After(n.clock.Now()) {
			return l.notBefore
		}
		if next := n.attempt(ctx, ch, s, l, head); !next.IsZero() {
			return next
		}
	}
	return time.Time{}
}

// outgoing is a channel's oldest message, its events read back from the outbox.
type outgoing struct {
	*state.Pending
	events     []Event
	unreadable error // the record or its events could not be read
}

// head is the channel's oldest message, or nil.
func (n *Notifier) head(channel string) (*outgoing, error) {
	p, err := n.state.Head(channel)
	if err != nil || p == nil {
		return nil, err
	}
	o := &outgoing{Pending: p, unreadable: p.Undecodable}
	if o.unreadable == nil {
		if o.events, err = decodeEvents(p.Events); err != nil {
			o.unreadable = fmt.Errorf("events that cannot be read: %w", err)
			p.Undecodable = o.unreadable // buried with its bytes, never requeued
		}
	}
	return o, nil
}

// buryUnreadable makes a message that cannot be read a dead letter, with what could be read, so
// that the channel goes on with the next: it is counted (dead) and alerted on
// (PurgewatchNotificationsDeadLetters). It reports whether the state file recorded it.
func (n *Notifier) buryUnreadable(ch Channel, head *outgoing) bool {
	name := ch.Name()
	cause := "not sent: " + head.unreadable.Error()
	if err := n.state.Bury(name, head.Pending, n.clock.Now(), 0, "", cause); err != nil {
		n.log.Error("recording an unreadable notification as a dead letter", zap.String("channel", name), zap.Error(err))
		return false
	}
	n.metrics.count(ch, "dead", max(len(head.Events), 1))
	n.log.Error("a message in the outbox could not be read (a damaged state file?): kept as a dead letter, the channel goes on; `purgewatch notify outbox` lists it",
		zap.String("channel", name), zap.Error(head.unreadable))
	return true
}

// attempt sends one message and records the outcome; it returns when to try again, or zero to
// go on with the next message.
func (n *Notifier) attempt(ctx context.Context, ch Channel, s Settings, l *lane, head *outgoing) time.Time {
	name, events := ch.Name(), len(head.events)
	again := false
	if f, ok := n.state.(Fence); ok {
		var err error
		if again, err = f.Attempting(name, head.Pending); err != nil {
			n.log.Warn("not sending: the shared notification log refused to record the attempt", zap.String("channel", name), zap.Error(err))
			return n.clock.Now().Add(backoff(s.Retry, 1, 0))
		}
	}
	if head.Attempts > 0 || l.unrecorded > 0 || again {
		n.metrics.count(ch, "resent", events) // the receiver may have had it already (a timeout, a leader that died)
	}
	sendErr := ch.Send(ctx, Message{Channel: name, Events: head.events, Now: n.clock.Now(), ARMEndpoint: s.ARMEndpoint, ExternalURL: s.ExternalURL})
	ended := n.clock.Now() // a backoff counts from the end of the attempt, not its start
	fields := []zap.Field{zap.String("channel", name), zap.String("type", ch.Type()), zap.Int("events", events), zap.Int("attempt", head.Attempts+1)}
	switch {
	case sendErr == nil:
		if err := n.state.Delivered(name, head.Pending, logged(head.events), ended); err != nil {
			// Sent but not recorded: the one message that may repeat (docs/notifications.md). It is sent
			// again no sooner than a failure would be, so a full disk repeats it once per backoff
			// step, each repeat counted as resent, not once a second.
			l.unrecorded++
			wait := backoff(s.Retry, head.Attempts+l.unrecorded, 0)
			l.notBefore = ended.Add(wait)
			n.log.Error("a delivered notification could not be recorded: it will be sent again", append(fields,
				zap.Duration("retryIn", wait), zap.Error(err))...)
			return ended.Add(wait)
		}
		l.unrecorded = 0
		n.metrics.count(ch, "sent", events)
		return time.Time{}
	case ctx.Err() != nil:
		return time.Time{} // stopping: the message stays as it was, due at once on the next start
	case permanent(sendErr):
		status, answer := refusal(sendErr)
		if err := n.state.Bury(name, head.Pending, ended, status, answer, sendErr.Error()); err != nil {
			n.log.Error("recording a dead letter", zap.String("channel", name), zap.Error(err))
			return ended.Add(backoff(s.Retry, head.Attempts+1, 0))
		}
		l.unrecorded = 0
		n.metrics.count(ch, "dead", events)
		n.log.Error("the receiver refused a notification for good: kept as a dead letter; fix the receiver, then `purgewatch notify retry --channel "+name+"`",
			append(fields, zap.Error(sendErr))...)
		return time.Time{}
	}
	wait := backoff(s.Retry, head.Attempts+1, retryAfter(sendErr))
	if err := n.state.Failed(name, head.Pending, ended, ended.Add(wait), sendErr.Error()); err != nil {
		n.log.Error("recording a failed notification", zap.String("channel", name), zap.Error(err))
	}
	n.metrics.count(ch, "failed", events)
	n.log.Warn("notification failed; kept for retry", append(fields, zap.Duration("retryIn", wait), zap.Error(sendErr))...)
	return ended.Add(wait)
}

// permanent reports whether sending the same message again cannot succeed: the receiver refused
// it (a 4xx other than 408 and 429) or it cannot be rendered. Transport errors, timeouts, 408,
// 429 and 5xx pass.
func permanent(err error) bool {
	var se *SendError
	return errors.As(err, &se) && se.Permanent()
}

// refusal is the status and answer of a refused send.
func refusal(err error) (int, string) {
	var se *SendError
	if errors.As(err, &se) {
		return se.Status, se.Body
	}
	return 0, ""
}

// backoff doubles from Initial up to Max, or waits as long as the destination asked (its
// Retry-After) up to Max too: a receiver cannot park a channel, and every warning queued behind
// its message, for longer than notify.retry.max. Never less than minBackoff.
func backoff(r config.Retry, attempt int, asked time.Duration) time.Duration {
	most := max(r.Max, minBackoff)
	d := max(r.Initial, minBackoff)
	for i := 1; i < attempt && d < r.Max; i++ {
		d *= 2
	}
	return max(min(d, most), min(asked, most))
}

// refresh sends a channel's still-active alerts again (an ActiveResender's), once per scan, so that they
// do not expire while the condition lasts. A failure is logged; the next scan sends them again.
func (n *Notifier) refresh(ctx context.Context, name string) {
	n.mu.Lock()
	l := n.laneLocked(name)
	var active []Event
	if l.pending {
		for _, src := range []string{sourceVersions, sourceScan, sourceConsumed} {
			active = append(active, l.active[src]...)
		}
		l.pending = false
	}
	s, ch := n.s, n.channel(name)
	n.mu.Unlock()
	if len(active) == 0 || ch == nil {
		return
	}
	if err := ch.Send(ctx, Message{Channel: name, Events: active, Now: n.clock.Now(), ARMEndpoint: s.ARMEndpoint, ExternalURL: s.ExternalURL}); err != nil && ctx.Err() == nil {
		n.log.Warn("re-sending active alerts failed; they are sent again next scan", zap.String("channel", name), zap.Error(err))
	}
}

// Sources of active alerts: a scan's versions, and the blind episode.
const (
	sourceVersions = "versions"
	sourceScan     = "scan"
	sourceConsumed = "consumed"
)

func (n *Notifier) updateGauges() {
	if n.metrics == nil {
		return
	}
	t, err := n.state.Counts()
	if err != nil {
		n.log.Warn("counting the outbox", zap.Error(err))
		return
	}
	for _, name := range channelNames(n.current().Channels) {
		n.metrics.pending.WithLabelValues(name).Set(float64(t.Pending[name]))
		n.metrics.dead.WithLabelValues(name).Set(float64(t.Dead[name]))
		if at, ok := t.Oldest[name]; ok {
			n.metrics.oldest.WithLabelValues(name).Set(float64(at.UnixNano()) / 1e9)
		} else {
			n.metrics.oldest.DeleteLabelValues(name) // nothing waits: no sample, not a 0 that reads as 1970
		}
	}
	n.metrics.size.Set(float64(n.state.Size()))
}
