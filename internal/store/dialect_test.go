package store

import (
	"testing"
	"time"
)

func TestSQLiteTimeRoundTrip(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC),
		time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2000, 2, 29, 23, 59, 59, 999999000, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 1000, time.UTC),
	}
	for _, want := range times {
		s := sqliteDialect{}.timeValue(want).(string)
		var d dbTime
		if err := d.Scan(s); err != nil {
			t.Fatalf("Scan(%q) = %v", s, err)
		}
		if !d.t.Equal(want) || d.t.Location() != time.UTC {
			t.Errorf("Scan(%q) = %v; want %v in UTC", s, d.t, want)
		}
	}
}

func TestDBTimeScan(t *testing.T) {
	tests := []struct {
		name    string
		src     any
		want    time.Time
		wantErr bool
	}{
		{"fixed layout", "2026-05-01T12:30:45.123456Z", time.Date(2026, 5, 1, 12, 30, 45, 123456000, time.UTC), false},
		{"fixed layout as bytes", []byte("2026-05-01T12:30:45.000001Z"), time.Date(2026, 5, 1, 12, 30, 45, 1000, time.UTC), false},
		{"RFC 3339 with offset", "2026-05-01T14:30:45+02:00", time.Date(2026, 5, 1, 12, 30, 45, 0, time.UTC), false},
		{"time value is truncated", time.Date(2026, 5, 1, 12, 30, 45, 123456789, time.FixedZone("X", 3600)), time.Date(2026, 5, 1, 11, 30, 45, 123456000, time.UTC), false},
		{"month out of range", "2026-13-01T12:30:45.000000Z", time.Time{}, true},
		{"letters", "2026-0a-01T12:30:45.000000Z", time.Time{}, true},
		{"garbage", "yesterday", time.Time{}, true},
		{"integer", int64(5), time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d dbTime
			err := d.Scan(tt.src)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Scan(%v) error = %v; want error %v", tt.src, err, tt.wantErr)
			}
			if !tt.wantErr && (!d.t.Equal(tt.want) || d.t.Location() != time.UTC) {
				t.Errorf("Scan(%v) = %v; want %v in UTC", tt.src, d.t, tt.want)
			}
		})
	}
}

func TestEscapeLike(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"100%", `100\%`},
		{"a_b", `a\_b`},
		{`back\slash`, `back\\slash`},
	}
	for _, tt := range tests {
		if got := escapeLike(tt.in); got != tt.want {
			t.Errorf("escapeLike(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
