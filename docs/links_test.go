// Package docs holds the repository's documentation; its test keeps the
// links of README.md and docs/*.md inside the repository and resolving.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	link    = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	heading = regexp.MustCompile(`(?m)^#{1,6} +(.+)$`)
	anchor  = regexp.MustCompile(`<a id="([^"]+)">`)
)

// TestLinksResolve checks every link of the README and docs/: a link to
// another site is allowed only as a plain URL (none points at a file
// outside the repository), a relative one must name a file that exists,
// and a #fragment a heading or anchor of that file.
func TestLinksResolve(t *testing.T) {
	files, err := filepath.Glob("*.md")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join("..", "README.md"))
	for _, file := range files {
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			path, frag, _ := strings.Cut(target, "#")
			dest := file
			if path != "" {
				dest = filepath.Join(filepath.Dir(file), path)
				if !within(dest) {
					t.Errorf("%s: %s leaves the repository", file, target)
					continue
				}
				if _, err := os.Stat(dest); err != nil {
					t.Errorf("%s: %s: no such file", file, target)
					continue
				}
			}
			if frag != "" && !hasAnchor(t, dest, frag) {
				t.Errorf("%s: %s: no heading or anchor %q in %s", file, target, frag, dest)
			}
		}
	}
}

// within reports whether path, relative to docs/, stays in the repository.
func within(path string) bool {
	abs, err := filepath.Abs(path)
	root, err2 := filepath.Abs("..")
	return err == nil && err2 == nil && (abs == root || strings.HasPrefix(abs, root+string(filepath.Separator)))
}

func hasAnchor(t *testing.T, file, frag string) bool {
	text, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range anchor.FindAllStringSubmatch(string(text), -1) {
		if m[1] == frag {
			return true
		}
	}
	for _, m := range heading.FindAllStringSubmatch(string(text), -1) {
		if slug(m[1]) == frag {
			return true
		}
	}
	return false
}

// slug is a heading's anchor as GitHub makes it: lower case, spaces to
// hyphens, punctuation other than hyphens and underscores dropped.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(h)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// specNumber is a specification document's number as user-facing text
// would say it; docs/specification.md alone maps them to features.
var specNumber = regexp.MustCompile(`(?i)\bseeds? ?0\d\d\b|seed's`)

// TestNoSpecificationNumbers keeps the README, the changelog and the docs
// naming features by what they do.
func TestNoSpecificationNumbers(t *testing.T) {
	files, _ := filepath.Glob("*.md")
	files = append(files, filepath.Join("..", "README.md"), filepath.Join("..", "CHANGELOG.md"))
	for _, file := range files {
		if filepath.Base(file) == "specification.md" {
			continue
		}
		text, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(text), "\n") {
			if specNumber.MatchString(line) {
				t.Errorf("%s:%d names a specification number: %s", file, i+1, line)
			}
		}
	}
}
