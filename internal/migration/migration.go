// Package migration lists a store's embedded schema migrations: files named
// VERSION_what.sql, which each store applies in version order, each once,
// recording the versions it applied in its schema_migrations table.
package migration

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
)

// File is one migration.
type File struct {
	Version int64
	Name    string // the file's base name, for errors
	SQL     string
}

// List reads the *.sql files of dir in fsys, in version order.
func List(fsys fs.FS, dir string) ([]File, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	out := make([]File, 0, len(names))
	for _, name := range names {
		base := path.Base(name)
		v, _, _ := strings.Cut(base, "_")
		version, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration %s: bad version", base)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", base, err)
		}
		out = append(out, File{Version: version, Name: base, SQL: string(body)})
	}
	slices.SortStableFunc(out, func(a, b File) int { return cmp.Compare(a.Version, b.Version) })
	for i := 1; i < len(out); i++ {
		if out[i].Version == out[i-1].Version {
			return nil, fmt.Errorf("migrations %s and %s: same version", out[i-1].Name, out[i].Name)
		}
	}
	return out, nil
}
