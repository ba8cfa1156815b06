// Package sqltime keeps times in SQL columns of Unix milliseconds, as the
// event and metadata stores both do: an INTEGER sorts and compares the
// same in SQLite, PostgreSQL and ClickHouse (which, at 18.16, has no
// DateTime64), and zero stands for no time.
package sqltime

import "time"

// Millis scans a column of Unix milliseconds into T, 0 as the zero time.
type Millis struct{ T *time.Time }

// Scan implements sql.Scanner.
func (m Millis) Scan(src any) error {
	ms, _ := src.(int64)
	m.SetInt64(ms)
	return nil
}

// SetInt64 sets the time to ms Unix milliseconds, 0 as the zero time.
func (m Millis) SetInt64(ms int64) { *m.T = FromMillis(ms) }

// ToMillis is t in Unix milliseconds, 0 for the zero time.
func ToMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMillis is the UTC time of n Unix milliseconds, the zero time for 0.
func FromMillis(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.UnixMilli(n).UTC()
}
