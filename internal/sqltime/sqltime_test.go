package sqltime

import (
	"testing"
	"time"
)

func TestMillis(t *testing.T) {
	tests := []struct {
		ms   int64
		want time.Time
	}{
		{0, time.Time{}},
		{1767225600123, time.Date(2026, 1, 1, 0, 0, 0, 123e6, time.UTC)},
		{-1000, time.Date(1969, 12, 31, 23, 59, 59, 0, time.UTC)},
	}
	for _, tt := range tests {
		var got time.Time
		if err := (Millis{&got}).Scan(tt.ms); err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
			t.Errorf("Scan(%d) = %v, %v; want %v UTC", tt.ms, got, err, tt.want)
		}
		if back := ToMillis(got); back != tt.ms {
			t.Errorf("ToMillis(%v) = %d, want %d", got, back, tt.ms)
		}
	}
	var got time.Time
	if err := (Millis{&got}).Scan(nil); err != nil || !got.IsZero() {
		t.Errorf("Scan(NULL) = %v, %v; want the zero time", got, err)
	}
}
