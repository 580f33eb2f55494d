package scanner

import (
	"fmt"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime/datetime"
)

const day = 24 * time.Hour

// Policy is the retention a gallery applies to its recycle bin.
type Policy struct {
	RetentionDays int
	GraceDays     int
}

// Times is when a soft-deleted version stops being usable and when it is purged.
type Times struct {
	ConsumptionEndsAt time.Time
	PurgeAt           time.Time
	PurgeAtSource     Source
}

// Price works out a version's deadlines. The service's own times win when it returns them
// (api-version 2026-03-03); otherwise they follow from the policy: usable for RetentionDays after
// deletion, then recoverable for GraceDays more, then purged.
func Price(deletedAt time.Time, consumptionEnd, hardDeletion *time.Time, p Policy) Times {
	t := Times{
		ConsumptionEndsAt: deletedAt.Add(time.Duration(p.RetentionDays) * day),
		PurgeAt:           deletedAt.Add(time.Duration(p.RetentionDays+p.GraceDays) * day),
		PurgeAtSource:     SourceComputed,
	}
	if consumptionEnd != nil && !consumptionEnd.IsZero() {
		t.ConsumptionEndsAt = consumptionEnd.UTC()
	}
	if hardDeletion != nil && !hardDeletion.IsZero() {
		t.PurgeAt = hardDeletion.UTC()
		t.PurgeAtSource = SourceService
	}
	return t
}

// The years a time must fall in: RFC 3339 (and so every JSON reader) cannot write a year past
// 9999, and nothing was soft-deleted before Unix time began.
const (
	minYear = 1970
	maxYear = 9999
)

// Representable reports whether t can be priced and written out: between minYear and maxYear.
func Representable(t time.Time) bool {
	y := t.UTC().Year()
	return y >= minYear && y <= maxYear
}

// ParseTime reads softDeletedTime, which every api-version returns as a plain string: an offset
// or Z, any fraction of a second, a space for the T, or no zone at all (taken as UTC).
func ParseTime(s string) (time.Time, error) {
	var dt datetime.RFC3339
	if err := dt.UnmarshalText([]byte(s)); err != nil {
		return time.Time{}, fmt.Errorf("softDeletedTime %q is not a date-time: %w", s, err)
	}
	t := time.Time(dt)
	if t.IsZero() {
		return time.Time{}, fmt.Errorf("softDeletedTime is empty")
	}
	return t.UTC(), nil
}
