package usage

import (
	"reflect"
	"testing"
)

// TestFieldsCoverEvent holds the table to the struct: every Event field is
// in Fields exactly once, so a field added to Event without its line here
// fails.
func TestFieldsCoverEvent(t *testing.T) {
	var e Event
	base := reflect.ValueOf(&e).Pointer()
	byOffset := map[uintptr]string{}
	names := map[string]bool{}
	for _, f := range Fields {
		if names[f.Name] {
			t.Errorf("field %q listed twice", f.Name)
		}
		names[f.Name] = true
		off := reflect.ValueOf(f.Ptr(&e)).Pointer() - base
		if other, dup := byOffset[off]; dup {
			t.Errorf("fields %q and %q point at the same Event field", other, f.Name)
		}
		byOffset[off] = f.Name
	}
	typ := reflect.TypeFor[Event]()
	for i := range typ.NumField() {
		sf := typ.Field(i)
		if _, ok := byOffset[sf.Offset]; !ok {
			t.Errorf("Event.%s is not in Fields", sf.Name)
		}
	}
}
