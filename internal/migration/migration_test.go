package migration

import (
	"testing"
	"testing/fstest"
)

func TestList(t *testing.T) {
	tests := []struct {
		name    string
		files   fstest.MapFS
		want    []int64
		wantErr string
	}{
		{"in version order", fstest.MapFS{
			"m/010_ten.sql": {Data: []byte("10")}, "m/002_two.sql": {Data: []byte("2")}, "m/001_one.sql": {Data: []byte("1")}, "m/notes.txt": {},
		}, []int64{1, 2, 10}, ""},
		{"bad version", fstest.MapFS{"m/first.sql": {}}, nil, "migration first.sql: bad version"},
		{"same version", fstest.MapFS{"m/001_a.sql": {}, "m/1_b.sql": {}}, nil, "migrations 001_a.sql and 1_b.sql: same version"},
		{"none", fstest.MapFS{}, []int64{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := List(tt.files, "m")
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("got %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d files, want %d", len(got), len(tt.want))
			}
			for i, f := range got {
				if f.Version != tt.want[i] || (f.Version == 10 && f.SQL != "10") {
					t.Errorf("file %d: %+v", i, f)
				}
			}
		})
	}
}
