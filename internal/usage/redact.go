package usage

import (
	"fmt"
	"net/url"
	"regexp"
	"regexp/syntax"
	"slices"
	"strings"
	"unicode/utf8"
)

// Redacted is what redaction leaves in place of what it removes.
const Redacted = "REDACTED"

// IPMode is how much of a caller's address capture keeps.
type IPMode string

// IP recording modes.
const (
	IPFull      IPMode = "full"      // the address as sent
	IPTruncated IPMode = "truncated" // an IPv4 address's /24, an IPv6 address's /48
	IPNone      IPMode = "none"      // no address
)

// Redaction is a workspace's rules for what capture removes from events
// before any store sees them: the values of query parameters by name, path
// segments (and query values) by pattern, in URLs, status details and user
// agents; and how much of the caller's address is kept. Events stored
// before a change keep what they hold.
type Redaction struct {
	// QueryParams are parameter names, matched without regard to case,
	// whose values become REDACTED.
	QueryParams []string `json:"query_params"`
	// PathPatterns are regular expressions (RE2): a path segment or a
	// query value, percent-decoded, that one matches becomes REDACTED
	// whole. Anchor them (^…$) to match whole segments.
	PathPatterns []string `json:"path_patterns"`
	// IP is full, truncated or none.
	IP IPMode `json:"ip" jsonschema:"enum=full,enum=truncated,enum=none"`
}

// Limits of a workspace's redaction rules.
const (
	MaxRedactionParams   = 100
	MaxRedactionPatterns = 50
	MaxParamLength       = 100
	MaxPatternLength     = 500
)

// DefaultQueryParams are the parameters whose values every workspace
// redacts until it says otherwise: credentials that clients put in URLs.
var DefaultQueryParams = []string{"token", "access_token", "api_key", "apikey", "key", "password", "secret", "signature", "code"}

// DefaultPathPatterns are the path segments every workspace redacts until
// it says otherwise.
var DefaultPathPatterns = []string{
	`^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$`,                     // an email address
	`^[0-9A-Fa-f]{32,}$`,                                  // a long hex string: a key, a hash
	`^eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$`, // a JSON Web Token
	`^[A-Za-z0-9+_=-]{40,}$`,                              // a long base64 token
}

// DefaultRedaction is what a workspace that set no rules redacts.
func DefaultRedaction() Redaction {
	return Redaction{QueryParams: slices.Clone(DefaultQueryParams), PathPatterns: slices.Clone(DefaultPathPatterns), IP: IPFull}
}

// Validate returns the first problem of r, naming the field: EInvalid.
func (r Redaction) Validate() error {
	if len(r.QueryParams) > MaxRedactionParams {
		return Errorf(EInvalid, "query_params: %d names, at most %d", len(r.QueryParams), MaxRedactionParams)
	}
	for i, p := range r.QueryParams {
		switch {
		case p == "":
			return Errorf(EInvalid, "query_params[%d]: empty; name a parameter", i)
		case len(p) > MaxParamLength:
			return Errorf(EInvalid, "query_params[%d]: %d bytes, at most %d", i, len(p), MaxParamLength)
		case strings.ContainsAny(p, "&=#? \t\r\n"):
			return Errorf(EInvalid, "query_params[%d]: %q holds one of & = # ? or a space; give the name alone", i, p)
		}
	}
	if len(r.PathPatterns) > MaxRedactionPatterns {
		return Errorf(EInvalid, "path_patterns: %d patterns, at most %d", len(r.PathPatterns), MaxRedactionPatterns)
	}
	for i, p := range r.PathPatterns {
		if p == "" {
			return Errorf(EInvalid, "path_patterns[%d]: empty; give a regular expression", i)
		}
		if len(p) > MaxPatternLength {
			return Errorf(EInvalid, "path_patterns[%d]: %d bytes, at most %d", i, len(p), MaxPatternLength)
		}
		if _, err := regexp.Compile(p); err != nil {
			return Errorf(EInvalid, "path_patterns[%d]: %v", i, err)
		}
	}
	switch r.IP {
	case IPFull, IPTruncated, IPNone:
	default:
		return Errorf(EInvalid, "ip: %q is not full, truncated or none", r.IP)
	}
	return nil
}

// Redactor applies a workspace's Redaction to events. A nil Redactor
// removes nothing.
type Redactor struct {
	params   []string
	patterns []segmentPattern
	minLen   int // the shortest match of any pattern
	ip       IPMode
	// bit maps the bytes redaction looks for to bits of a byteMask: a
	// string's mask, gathered in one pass, tells most strings apart from
	// every pattern (BenchmarkRedactEvent).
	bit [256]byteMask
}

// byteMask is a set of the bytes a Redactor looks for, a bit each (bytes
// past the 63rd share the last bit: a set may then say a byte is there
// when another is, never the reverse).
type byteMask uint64

// The bits of the bytes that redaction itself looks for.
const (
	maskQuery byteMask = 1 << (iota + 1) // ?
	maskFrag                             // #
	maskAt                               // @
	maskPct                              // %
	maskEq                               // =
	maskB                                // B or b, of Bearer and Basic
	firstPatternBit
)

// segmentPattern is a path pattern with what every string it matches
// holds: most segments are told apart without running the expression.
type segmentPattern struct {
	re     *regexp.Regexp
	minLen int      // bytes
	needs  byteMask // the bytes that every match holds
}

// Redactor compiles r; nil when r removes nothing.
func (r Redaction) Redactor() (*Redactor, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if len(r.QueryParams) == 0 && len(r.PathPatterns) == 0 && r.IP == IPFull {
		return nil, nil
	}
	rd := &Redactor{ip: r.IP}
	rd.bit['?'], rd.bit['#'], rd.bit['@'], rd.bit['%'], rd.bit['='], rd.bit['B'], rd.bit['b'] = maskQuery, maskFrag, maskAt, maskPct, maskEq, maskB, maskB
	next := firstPatternBit
	for _, p := range r.QueryParams {
		rd.params = append(rd.params, strings.ToLower(p))
	}
	for _, p := range r.PathPatterns {
		re := regexp.MustCompile(p) // Validate compiled it
		sp := segmentPattern{re: re}
		if tree, err := syntax.Parse(p, syntax.Perl); err == nil {
			sp.minLen = minLen(tree)
			for c, needed := range needSet(tree) {
				if !needed {
					continue
				}
				if rd.bit[c] == 0 {
					rd.bit[c] = next
					if next < 1<<63 {
						next <<= 1
					}
				}
				sp.needs |= rd.bit[c]
			}
		}
		rd.patterns = append(rd.patterns, sp)
		if len(rd.patterns) == 1 || sp.minLen < rd.minLen {
			rd.minLen = sp.minLen
		}
	}
	return rd, nil
}

// Event redacts e's URLs, status details, user agent and address.
func (rd *Redactor) Event(e *Event) {
	if rd == nil {
		return
	}
	e.URL = rd.URL(e.URL)
	e.JobURL = rd.URL(e.JobURL)
	e.StatusDetails = rd.Text(e.StatusDetails)
	e.UserAgent = rd.Text(e.UserAgent)
	switch rd.ip {
	case IPNone:
		e.IP = ""
	case IPTruncated:
		e.IP = TruncateIP(e.IP)
	}
}

// URL redacts a URL, absolute or a path: the password of its user info,
// the path segments and query values that match a pattern, and the values
// of the named parameters in its query and fragment. It is s itself when
// nothing is redacted.
func (rd *Redactor) URL(s string) string {
	if rd == nil || s == "" {
		return s
	}
	// Most URLs have nothing to redact, told in one pass over their bytes:
	// no query, fragment or user info, and no segment a pattern may match.
	m, longest := rd.scanParts(s, '/')
	if m&(maskQuery|maskFrag|maskAt) == 0 && !rd.mayMatch(m, longest) {
		return s
	}
	rest, frag := s, ""
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		rest, frag = rest[:i], rest[i:]
	}
	query := ""
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest, query = rest[:i], rest[i:]
	}
	prefix, path := "", rest
	changed := false
	if i := strings.Index(rest, "://"); i > 0 && !strings.ContainsAny(rest[:i], "/?#") {
		end := i + 3
		if j := strings.IndexByte(rest[end:], '/'); j >= 0 {
			end += j
		} else {
			end = len(rest)
		}
		prefix, path = rest[:end], rest[end:]
		if at := strings.LastIndexByte(prefix, '@'); at > i {
			if c := strings.IndexByte(prefix[i+3:at], ':'); c >= 0 {
				prefix, changed = prefix[:i+3+c+1]+Redacted+prefix[at:], true
			}
		}
	}
	newPath := rd.path(path)
	newQuery := rd.pairs(query)
	newFrag := rd.pairs(frag)
	if !changed && newPath == path && newQuery == query && newFrag == frag {
		return s
	}
	return prefix + newPath + newQuery + newFrag
}

// path redacts the segments of p that match a pattern. The bytes each
// segment holds are gathered as it is read, so that most segments are
// told apart from every pattern without another pass (BenchmarkRedactEvent).
func (rd *Redactor) path(p string) string {
	if len(rd.patterns) == 0 || p == "" {
		return p
	}
	if m, longest := rd.scanParts(p, '/'); !rd.mayMatch(m, longest) {
		return p
	}
	var b strings.Builder
	last := 0 // p[:last] is written to b, once something changed
	start := 0
	var m byteMask
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			m |= rd.bit[p[i]]
			continue
		}
		if i > start && rd.matchesMask(p[start:i], m, true) {
			b.WriteString(p[last:start])
			b.WriteString(Redacted)
			last = i
		}
		start, m = i+1, 0
	}
	if last == 0 {
		return p
	}
	b.WriteString(p[last:])
	return b.String()
}

// pairs redacts a query or fragment (with its leading ? or #): the values
// of the named parameters, values that match a pattern, and the query of a
// value that is a URL itself (?next=/x?token=…).
func (rd *Redactor) pairs(q string) string {
	if len(q) < 2 || !strings.Contains(q, "=") {
		return q
	}
	var b strings.Builder
	last := 0
	for start := 1; start < len(q); {
		end := strings.IndexByte(q[start:], '&')
		if end < 0 {
			end = len(q)
		} else {
			end += start
		}
		pair := q[start:end]
		if eq := strings.IndexByte(pair, '='); eq >= 0 && eq < len(pair)-1 {
			name, value := pair[:eq], pair[eq+1:]
			out := value
			if rd.named(name, true) || rd.matches(value, true) {
				out = Redacted
			} else if i := strings.IndexByte(value, '?'); i >= 0 {
				out = value[:i] + rd.pairs(value[i:])
			}
			if out != value {
				b.WriteString(q[last : start+eq+1])
				b.WriteString(out)
				last = end
			}
		}
		start = end + 1
	}
	if last == 0 {
		return q
	}
	b.WriteString(q[last:])
	return b.String()
}

// Text redacts free text (a status detail, a user agent): the values of
// name=value pairs of the named parameters, what follows "Bearer " or
// "Basic ", and words that match a pattern.
func (rd *Redactor) Text(s string) string {
	if rd == nil || s == "" {
		return s
	}
	if m, longest := rd.scanWords(s); m&maskEq == 0 && !rd.mayMatch(m, longest) && !(m&maskB != 0 && hasScheme(s)) {
		return s
	}
	var b strings.Builder
	last := 0
	afterScheme := false // the word before was Bearer or Basic
	for i := 0; i < len(s); {
		if isSeparator(s[i]) {
			i++
			continue
		}
		j := i
		var m byteMask
		for ; j < len(s) && !isSeparator(s[j]); j++ {
			m |= rd.bit[s[j]]
		}
		word := s[i:j]
		out := word
		if afterScheme {
			out = Redacted
		} else if m&maskEq != 0 {
			out = rd.wordPairs(word)
		}
		if out == word && rd.matchesMask(word, m, false) {
			out = Redacted
		}
		afterScheme = len(word) <= 6 && (strings.EqualFold(word, "Bearer") || strings.EqualFold(word, "Basic"))
		if out != word {
			b.WriteString(s[last:i])
			b.WriteString(out)
			last = j
		}
		i = j
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// wordPairs redacts the name=value pairs of a word of free text, split
// at & and ?: the values of the named parameters, and values that match a
// pattern.
func (rd *Redactor) wordPairs(word string) string {
	var b strings.Builder
	last := 0
	for start := 0; start < len(word); {
		end := strings.IndexAny(word[start:], "&?")
		if end < 0 {
			end = len(word)
		} else {
			end += start
		}
		pair := word[start:end]
		if eq := strings.IndexByte(pair, '='); eq > 0 && eq < len(pair)-1 {
			if rd.named(pair[:eq], false) || rd.matches(pair[eq+1:], false) {
				b.WriteString(word[last : start+eq+1])
				b.WriteString(Redacted)
				last = end
			}
		}
		start = end + 1
	}
	if last == 0 {
		return word
	}
	b.WriteString(word[last:])
	return b.String()
}

// isSeparator ends a word of free text.
func isSeparator(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '(', ')', '[', ']', '{', '}', ';', ',', '"', '\'', '<', '>', '|':
		return true
	}
	return false
}

// named says whether name (percent-encoded when escaped) is a redacted
// parameter.
func (rd *Redactor) named(name string, escaped bool) bool {
	if len(rd.params) == 0 {
		return false
	}
	if escaped && strings.ContainsAny(name, "%+") {
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
	}
	for _, p := range rd.params {
		if strings.EqualFold(name, p) {
			return true
		}
	}
	return false
}

// matches says whether a pattern matches s (percent-encoded when
// escaped).
func (rd *Redactor) matches(s string, escaped bool) bool {
	if len(rd.patterns) == 0 {
		return false
	}
	m, _ := rd.scanParts(s, 0)
	return rd.matchesMask(s, m, escaped)
}

// matchesMask is matches of s, whose bytes are m.
func (rd *Redactor) matchesMask(s string, m byteMask, escaped bool) bool {
	if len(rd.patterns) == 0 || (len(s) < rd.minLen && m&maskPct == 0) {
		return false
	}
	if escaped && m&maskPct != 0 {
		if u, err := url.PathUnescape(s); err == nil {
			s = u
			m, _ = rd.scanParts(u, 0)
		}
	}
	for i := range rd.patterns {
		p := &rd.patterns[i]
		if len(s) >= p.minLen && m&p.needs == p.needs && p.re.MatchString(s) {
			return true
		}
	}
	return false
}

// mayMatch says whether some pattern may match a part of a string that
// holds the bytes set, whose longest part is longest bytes: false when,
// for every pattern, the parts are too short or a byte that every match
// holds is missing. Most URLs and user agents are told apart so, in one
// pass over their bytes (BenchmarkRedactEvent).
func (rd *Redactor) mayMatch(m byteMask, longest int) bool {
	if longest < rd.minLen {
		return false
	}
	if m&maskPct != 0 {
		return true // an escaped byte may be one a pattern needs
	}
	for i := range rd.patterns {
		p := &rd.patterns[i]
		if longest >= p.minLen && m&p.needs == p.needs {
			return true
		}
	}
	return false
}

// scanParts is the bytes of s that rd looks for and the length of its
// longest part between seps.
func (rd *Redactor) scanParts(s string, sep byte) (m byteMask, longest int) {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		m |= rd.bit[c]
		if c == sep {
			longest, start = max(longest, i-start), i+1
		}
	}
	return m, max(longest, len(s)-start)
}

// scanWords is the bytes of free text that rd looks for and the length of
// its longest word.
func (rd *Redactor) scanWords(s string) (m byteMask, longest int) {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		m |= rd.bit[c]
		if isSeparator(c) {
			longest, start = max(longest, i-start), i+1
		}
	}
	return m, max(longest, len(s)-start)
}

// hasScheme says whether free text may hold an authorization scheme
// whose credentials follow it.
func hasScheme(s string) bool {
	for _, w := range []string{"earer", "EARER", "asic", "ASIC"} {
		if strings.Contains(s, w) {
			return true
		}
	}
	return false
}

// minLen is the fewest bytes a match of re holds.
func minLen(re *syntax.Regexp) int {
	switch re.Op {
	case syntax.OpLiteral:
		n := 0
		for _, r := range re.Rune {
			n += utf8.RuneLen(r)
		}
		return n
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return 1
	case syntax.OpCapture, syntax.OpPlus:
		return minLen(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min * minLen(re.Sub[0])
	case syntax.OpConcat:
		n := 0
		for _, s := range re.Sub {
			n += minLen(s)
		}
		return n
	case syntax.OpAlternate:
		n := -1
		for _, s := range re.Sub {
			if m := minLen(s); n < 0 || m < n {
				n = m
			}
		}
		return max(n, 0)
	}
	return 0 // star, quest, empty, anchors
}

// needSet is the ASCII bytes that every match of re holds, from its
// literals that are matched as written.
func needSet(re *syntax.Regexp) (set [128]bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return set
		}
		for _, r := range re.Rune {
			if r < 128 {
				set[r] = true
			}
		}
	case syntax.OpCapture, syntax.OpPlus:
		return needSet(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min > 0 {
			return needSet(re.Sub[0])
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			sub := needSet(s)
			for c := range set {
				set[c] = set[c] || sub[c]
			}
		}
	case syntax.OpAlternate:
		for i, s := range re.Sub {
			sub := needSet(s)
			for c := range set {
				set[c] = sub[c] && (i == 0 || set[c])
			}
		}
	}
	return set
}

// AuditDetails is what an audit entry of a change to r says: the rules,
// and whether they are the defaults.
func (r Redaction) AuditDetails(isDefault bool) map[string]any {
	return map[string]any{"query_params": r.QueryParams, "path_patterns": r.PathPatterns, "ip": r.IP, "default": isDefault}
}

// String describes r for logs and audit entries.
func (r Redaction) String() string {
	return fmt.Sprintf("%d parameters, %d patterns, ip %s", len(r.QueryParams), len(r.PathPatterns), r.IP)
}
