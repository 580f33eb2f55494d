package scanner_test

import (
	"testing"
	"time"

	"github.com/purgewatch/purgewatch/scanner"
)

func TestPrice(t *testing.T) {
	deleted := time.Date(2024, 10, 17, 13, 1, 5, 0, time.UTC)
	at := func(d time.Duration) time.Time { return deleted.Add(d) }
	ptr := func(t time.Time) *time.Time { return &t }
	cases := []struct {
		name               string
		consumption, hard  *time.Time
		policy             scanner.Policy
		wantEnd, wantPurge time.Time
		wantSource         scanner.Source
	}{
		{"api 2024: default 7 days, no grace", nil, nil, scanner.Policy{RetentionDays: 7},
			at(7 * day), at(7 * day), scanner.SourceComputed},
		{"api 2026 policy without service times: 7 + 30", nil, nil, scanner.Policy{RetentionDays: 7, GraceDays: 30},
			at(7 * day), at(37 * day), scanner.SourceComputed},
		{"30 days retention, 7 grace", nil, nil, scanner.Policy{RetentionDays: 30, GraceDays: 7},
			at(30 * day), at(37 * day), scanner.SourceComputed},
		{"1 day retention, no grace", nil, nil, scanner.Policy{RetentionDays: 1},
			at(day), at(day), scanner.SourceComputed},
		{"api 2026 with both service times: they win over the policy",
			ptr(time.Date(2024, 11, 16, 13, 1, 5, 0, time.UTC)), ptr(time.Date(2024, 11, 23, 13, 1, 5, 0, time.UTC)),
			scanner.Policy{RetentionDays: 7},
			time.Date(2024, 11, 16, 13, 1, 5, 0, time.UTC), time.Date(2024, 11, 23, 13, 1, 5, 0, time.UTC), scanner.SourceService},
		{"only consumptionEndTime returned: purge computed",
			ptr(at(10 * day)), nil, scanner.Policy{RetentionDays: 7, GraceDays: 3},
			at(10 * day), at(10 * day), scanner.SourceComputed},
		{"only hardDeletionTargetTime returned",
			nil, ptr(at(40 * day)), scanner.Policy{RetentionDays: 7},
			at(7 * day), at(40 * day), scanner.SourceService},
		{"service time in another zone comes back in UTC",
			nil, ptr(time.Date(2024, 11, 23, 15, 1, 5, 0, time.FixedZone("CEST", 2*3600))), scanner.Policy{RetentionDays: 7},
			at(7 * day), time.Date(2024, 11, 23, 13, 1, 5, 0, time.UTC), scanner.SourceService},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := scanner.Price(deleted, tc.consumption, tc.hard, tc.policy)
			if !got.ConsumptionEndsAt.Equal(tc.wantEnd) || !got.PurgeAt.Equal(tc.wantPurge) || got.PurgeAtSource != tc.wantSource {
				t.Errorf("got end %v purge %v (%s), want end %v purge %v (%s)",
					got.ConsumptionEndsAt, got.PurgeAt, got.PurgeAtSource, tc.wantEnd, tc.wantPurge, tc.wantSource)
			}
			if got.PurgeAt.Location() != time.UTC || got.ConsumptionEndsAt.Location() != time.UTC {
				t.Error("times must be UTC")
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	want := time.Date(2024, 10, 17, 13, 1, 5, 0, time.UTC)
	for _, s := range []string{
		"2024-10-17T13:01:05+00:00", // the spec's examples
		"2024-10-17T13:01:05Z",
		"2024-10-17T15:01:05+02:00",
		"2024-10-17T08:01:05-05:00",
		"2024-10-17T13:01:05",  // no zone: UTC
		"2024-10-17 13:01:05Z", // a space for the T
		"2024-10-17t13:01:05z",
	} {
		got, err := scanner.ParseTime(s)
		if err != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v UTC", s, got, err, want)
		}
	}
	for s, frac := range map[string]time.Duration{
		"2024-10-17T13:01:05.5Z":              500 * time.Millisecond,
		"2024-10-17T13:01:05.1234567+00:00":   123456700,
		"2024-10-17T13:01:05.123456789":       123456789,
		"2024-10-17T13:01:05.000000001+00:00": 1,
	} {
		if got, err := scanner.ParseTime(s); err != nil || got.Sub(want) != frac {
			t.Errorf("ParseTime(%q) = %v, %v; want %v past the second", s, got, err, frac)
		}
	}
	for _, s := range []string{"", "yesterday", "2024-13-40T99:00:00Z", "17/10/2024 13:01"} {
		if _, err := scanner.ParseTime(s); err == nil {
			t.Errorf("ParseTime(%q) accepted a non-time", s)
		}
	}
}

// FuzzParseTime: whatever it accepts is in UTC, and a time written back in RFC 3339 with its
// offset parses to the same instant.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"2024-10-17T13:01:05+00:00", "2024-10-17T13:01:05Z", "2024-10-17T13:01:05",
		"2024-10-17T13:01:05.1234567-07:30", "2024-10-17 13:01:05", "", "not a time"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := scanner.ParseTime(s)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("ParseTime(%q) = %v, not UTC", s, got)
		}
		if got.Year() < 0 || got.Year() > 9999 {
			return // RFC 3339 cannot write it back
		}
		again, err := scanner.ParseTime(got.Format(time.RFC3339Nano))
		if err != nil || !again.Equal(got) {
			t.Fatalf("round trip of %q: %v -> %v, %v", s, got, again, err)
		}
	})
}
