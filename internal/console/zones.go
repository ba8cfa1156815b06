package console

import (
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// fallbackZones is offered when the system has no zoneinfo to list; any
// other IANA name can still be typed.
var fallbackZones = []string{
	"UTC", "Africa/Johannesburg", "America/Chicago", "America/Denver", "America/Los_Angeles", "America/New_York",
	"America/Sao_Paulo", "America/Toronto", "Asia/Dubai", "Asia/Kolkata", "Asia/Shanghai", "Asia/Singapore",
	"Asia/Tokyo", "Australia/Sydney", "Europe/Berlin", "Europe/London", "Europe/Madrid", "Europe/Paris",
	"Europe/Warsaw", "Pacific/Auckland",
}

// zoneNames lists the IANA zones of the system's zoneinfo, read once, for
// the timezone pickers.
var zoneNames = sync.OnceValue(func() []string {
	var out []string
	root := "/usr/share/zoneinfo"
	_ = fs.WalkDir(os.DirFS(root), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if p != "." && (strings.Contains(p, "posix") || strings.Contains(p, "right") || !unicode.IsUpper(rune(d.Name()[0]))) {
				return fs.SkipDir
			}
			return nil
		}
		if strings.Contains(p, "/") && unicode.IsUpper(rune(d.Name()[0])) && !strings.HasPrefix(p, "Etc/") && !strings.ContainsAny(d.Name(), ".") {
			out = append(out, p)
		}
		return nil
	})
	if len(out) < 50 {
		return fallbackZones
	}
	out = append(out, "UTC")
	slices.Sort(out)
	return out
})

// sortFold sorts names case-insensitively.
func sortFold(s []string) {
	slices.SortFunc(s, func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) })
}

// zoneChoices are the timezone picker's options: every zone, and zone
// itself if the list lacks it (a name the system's zoneinfo does not
// list, or one a member sent).
func zoneChoices(zone string) []string {
	all := zoneNames()
	if zone == "" || slices.Contains(all, zone) {
		return all
	}
	return append(slices.Clip(all), zone)
}
