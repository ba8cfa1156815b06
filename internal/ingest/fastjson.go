package ingest

import (
	"unicode/utf8"
)

// fastWire decodes data into a zero w when data is a plain event object:
// members named exactly as the contract's fields, each once, strings
// without escapes and in valid UTF-8, whole numbers of at most 18 digits,
// true or false, whitespace anywhere JSON allows it. It reports false for
// anything else, w then in any state, and ParseJSON hands data to jsonv2,
// which decides and words the error. So the fast path never accepts what
// jsonv2 would refuse, nor reads a value differently
// (FuzzFastWireMatchesJSON); it exists because jsonv2 was most of the
// ingest path's time (BenchmarkDecodeNDJSON).
//
// The line is copied into one string and every value is a slice of it:
// one allocation for all the event's strings.
func fastWire(data []byte, w *wire) bool {
	p := scanner{s: string(data)}
	p.space()
	if !p.skip('{') {
		return false
	}
	p.space()
	if !p.skip('}') {
		for {
			name, ok := p.str()
			if !ok {
				return false
			}
			i, known := inputIndex[name]
			if !known || w.given&(1<<i) != 0 {
				return false
			}
			p.space()
			if !p.skip(':') {
				return false
			}
			p.space()
			if !p.value(w, i) {
				return false
			}
			p.space()
			if p.skip(',') {
				p.space()
				continue
			}
			if !p.skip('}') {
				return false
			}
			break
		}
	}
	p.space()
	return p.i == len(p.s)
}

type fieldKind int

// Kinds of JSON value; a pointer field takes its element's.
const (
	kindString fieldKind = iota
	kindInt
	kindBool
)

// scanner reads JSON tokens from s at i.
type scanner struct {
	s string
	i int
}

func (p *scanner) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *scanner) skip(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters, in valid
// UTF-8.
func (p *scanner) str() (string, bool) {
	if !p.skip('"') {
		return "", false
	}
	start, ascii := p.i, true
	for j := start; j < len(p.s); j++ {
		switch c := p.s[j]; {
		case c == '"':
			v := p.s[start:j]
			if !ascii && !utf8.ValidString(v) {
				return "", false
			}
			p.i = j + 1
			return v, true
		case c == '\\' || c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return "", false
}

// int reads -?(0|[1-9][0-9]*) of at most 18 digits, which no int64
// overflows; fractions and exponents are left to jsonv2.
func (p *scanner) int() (int64, bool) {
	neg := p.skip('-')
	start := p.i
	var n int64
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		n = n*10 + int64(p.s[p.i]-'0')
		p.i++
	}
	digits := p.i - start
	if digits == 0 || digits > 18 || (digits > 1 && p.s[start] == '0') {
		return 0, false
	}
	if p.i < len(p.s) {
		switch p.s[p.i] {
		case '.', 'e', 'E':
			return 0, false
		}
	}
	if neg {
		n = -n
	}
	return n, true
}

func (p *scanner) literal(word string) bool {
	if len(p.s)-p.i >= len(word) && p.s[p.i:p.i+len(word)] == word {
		p.i += len(word)
		return true
	}
	return false
}

// value reads the value of inputs[i] into w.
func (p *scanner) value(w *wire, i int) bool {
	switch inputs[i].json {
	case kindString:
		v, ok := p.str()
		if !ok {
			return false
		}
		w.setString(i, v)
	case kindInt:
		n, ok := p.int()
		if !ok {
			return false
		}
		w.setInt(i, n)
	case kindBool:
		switch {
		case p.literal("true"):
			w.setBool(i, true)
		case p.literal("false"):
			w.setBool(i, false)
		default:
			return false
		}
	}
	return true
}
