package silence

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/purgewatch/purgewatch/internal/deleters"
	"github.com/purgewatch/purgewatch/scanner"
)

// Silence mutes the notifications of the versions all its matchers match, from StartsAt to
// EndsAt.
type Silence struct {
	ID        string    `json:"id"`
	Matchers  []Matcher `json:"matchers"`
	StartsAt  time.Time `json:"startsAt"`
	EndsAt    time.Time `json:"endsAt"`
	CreatedBy string    `json:"createdBy"`
	Comment   string    `json:"comment"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// States of a silence.
const (
	StateActive  = "active"
	StateExpired = "expired"
)

// Retention is how long an expired silence is kept, for the page and `silence query --expired`:
// Alertmanager's default.
const Retention = 5 * 24 * time.Hour

// New makes a silence from now for d, checked: at least one matcher, a positive duration, an
// author and a comment (who reads it on the page must know why, and whom to ask).
func New(matchers []Matcher, d time.Duration, author, comment string, now time.Time) (Silence, error) {
	var errs []error
	if len(matchers) == 0 {
		errs = append(errs, errors.New("a silence needs at least one matcher (gallery=prodimages, id=/subscriptions/…)"))
	}
	if d <= 0 {
		errs = append(errs, fmt.Errorf("duration %s: must be positive", d))
	}
	if strings.TrimSpace(author) == "" {
		errs = append(errs, errors.New("author: say who silences (--author, default $USER)"))
	}
	if strings.TrimSpace(comment) == "" {
		errs = append(errs, errors.New("comment: say why (--comment)"))
	}
	if len(errs) > 0 {
		return Silence{}, errors.Join(errs...)
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id) // crypto/rand.Read never fails
	now = now.UTC().Truncate(time.Second)
	return Silence{ID: hex.EncodeToString(id), Matchers: matchers, StartsAt: now, EndsAt: now.Add(d),
		CreatedBy: author, Comment: comment, UpdatedAt: now}, nil
}

// State is active or expired at now.
func (s Silence) State(now time.Time) string {
	if now.Before(s.EndsAt) && !now.Before(s.StartsAt) {
		return StateActive
	}
	return StateExpired
}

// Matches reports whether every matcher matches labels.
func (s *Silence) Matches(labels LabelFunc) bool {
	for i := range s.Matchers {
		if !s.Matchers[i].Matches(labels) {
			return false
		}
	}
	return len(s.Matchers) > 0
}

// LabelFunc reads a label by name; an absent one is "".
type LabelFunc func(name string) string

// Labels are what a silence matches of a version: its metric labels and its id, each read only
// when a matcher asks for it (every version is matched at every scan while a silence is active:
// a map of them a version was 60 MB of garbage a scan at 100,000 versions).
func Labels(v *scanner.Version) LabelFunc {
	return func(name string) string {
		switch name {
		case "subscription_id":
			return v.SubscriptionID
		case "resource_group":
			return v.ResourceGroup
		case "gallery":
			return v.Gallery
		case "image":
			return v.Image
		case "version":
			return v.Version
		case "location":
			return v.Location
		case "routine":
			if v.Triage == nil {
				return ""
			}
			return fmt.Sprint(v.Routine())
		case "deleted_by":
			return deleters.Label(*v)
		case "id":
			return v.ID()
		}
		return ""
	}
}

// Matching returns the first of silences active at now that matches v, or nil.
func Matching(silences []Silence, v *scanner.Version, now time.Time) *Silence {
	var labels LabelFunc
	for i := range silences {
		s := &silences[i]
		if s.State(now) != StateActive {
			continue
		}
		if labels == nil {
			labels = Labels(v)
		}
		if s.Matches(labels) {
			return s
		}
	}
	return nil
}
