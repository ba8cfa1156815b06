package ingest

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/usage"
)

// Format is how a stream of events is encoded.
type Format int

// Formats the ingest path reads.
const (
	NDJSON Format = iota
	JSONArray
	CSV
)

// MaxLineBytes bounds one NDJSON line or CSV record; longer ones are
// rejected with their line number and the stream goes on.
const MaxLineBytes = 1 << 20

// Record is one decoded event, or why it was rejected. Line counts lines of
// NDJSON, elements of an array and data rows of CSV (the header excluded),
// from 1.
type Record struct {
	Line  int
	Event usage.Event
	Err   error
}

// Decoder reads events one at a time.
type Decoder struct {
	// latest, when not zero, is the latest time taken (RefuseFuture).
	latest time.Time
	ahead  time.Duration

	r      *bufio.Reader
	format Format
	line   int
	done   bool

	arr       *json.Decoder
	arrOpened bool

	csv    *csv.Reader
	header []string

	w wire // reused by every NDJSON line
}

// NewDecoder returns a decoder for r in the given format.
func NewDecoder(r io.Reader, format Format) *Decoder {
	d := &Decoder{r: bufio.NewReaderSize(r, 64<<10), format: format}
	switch format {
	case JSONArray:
		d.arr = json.NewDecoder(d.r)
	case CSV:
		d.csv = csv.NewReader(d.r)
		d.csv.ReuseRecord = true
		d.csv.FieldsPerRecord = -1
	}
	return d
}

// Sniff guesses the format of a stream from its first bytes: "[" is a JSON
// array, "{" NDJSON, anything else CSV. It does not consume r.
func Sniff(r *bufio.Reader) Format {
	for i := 1; ; i++ {
		b, err := r.Peek(i)
		if err != nil || i > 4096 {
			return NDJSON
		}
		if len(b) < 3 && bytes.HasPrefix([]byte("\xef\xbb\xbf"), b) {
			continue // maybe a byte order mark: look further
		}
		rest := bytes.TrimLeft(bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")), " \t\r\n")
		if len(rest) == 0 {
			continue
		}
		switch rest[0] {
		case '[':
			return JSONArray
		case '{':
			return NDJSON
		}
		return CSV
	}
}

// Next returns the next record. It returns io.EOF at the end of the stream
// and any other error when the stream itself cannot be read further (a
// read error or an over-limit body); records already returned stand.
func (d *Decoder) Next() (Record, error) {
	if d.done {
		return Record{}, io.EOF
	}
	var rec Record
	var err error
	switch d.format {
	case JSONArray:
		rec, err = d.nextArray()
	case CSV:
		rec, err = d.nextCSV()
	default:
		rec, err = d.nextLine()
	}
	if err == nil && rec.Err == nil && !d.latest.IsZero() && rec.Event.Time.After(d.latest) {
		rec.Err = fmt.Errorf("field \"time\": %s is more than %s ahead of the server's clock (%s)",
			rec.Event.Time.UTC().Format(rfc3339ms), d.ahead, d.latest.Add(-d.ahead).UTC().Format(time.RFC3339))
	}
	return rec, err
}

// DefaultMaxFuture is how far ahead of the clock an event may be dated
// unless configured: clocks disagree by seconds, not a day.
const DefaultMaxFuture = 24 * time.Hour

// RefuseFuture rejects events dated more than ahead after now: a time far
// in the future would stay on top of every view.
func (d *Decoder) RefuseFuture(now time.Time, ahead time.Duration) {
	d.latest, d.ahead = now.Add(ahead), ahead
}

func (d *Decoder) nextLine() (Record, error) {
	for {
		line, tooLong, err := d.readLine()
		if err != nil && (err != io.EOF || (len(line) == 0 && !tooLong)) {
			return Record{}, err
		}
		d.line++
		if tooLong {
			return Record{Line: d.line, Err: fmt.Errorf("line longer than %d bytes", MaxLineBytes)}, nil
		}
		if d.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(line)) == 0 {
			if err == io.EOF {
				return Record{}, io.EOF
			}
			continue // blank lines are allowed and count as lines
		}
		d.w = wire{}
		ev, perr := parseInto(line, &d.w)
		return Record{Line: d.line, Event: ev, Err: perr}, nil
	}
}

// readLine reads one line without its newline, discarding the rest of a line
// longer than MaxLineBytes.
func (d *Decoder) readLine() (line []byte, tooLong bool, err error) {
	var buf []byte
	for {
		chunk, err := d.r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if !tooLong {
				buf = append(buf, chunk...)
				if len(buf) > MaxLineBytes {
					tooLong, buf = true, nil
				}
			}
			continue
		}
		if tooLong {
			return nil, true, err
		}
		if buf != nil {
			buf = append(buf, chunk...)
		} else {
			buf = chunk
		}
		if len(buf) > MaxLineBytes+1 {
			return nil, true, err
		}
		return bytes.TrimSuffix(bytes.TrimSuffix(buf, []byte("\n")), []byte("\r")), false, err
	}
}

func (d *Decoder) nextArray() (Record, error) {
	if !d.arrOpened {
		tok, err := d.arr.Token()
		if err != nil {
			d.done = true
			if isReadError(err) {
				return Record{}, err
			}
			return Record{Line: 1, Err: errors.New("malformed JSON array")}, nil
		}
		if delim, ok := tok.(json.Delim); !ok || delim != '[' {
			d.done = true
			return Record{Line: 1, Err: errors.New("a JSON body must be an array of events or NDJSON")}, nil
		}
		d.arrOpened = true
	}
	if !d.arr.More() {
		d.done = true
		if _, err := d.arr.Token(); err != nil && isReadError(err) {
			return Record{}, err
		}
		return Record{}, io.EOF
	}
	d.line++
	var raw json.RawMessage
	if err := d.arr.Decode(&raw); err != nil {
		// The array's syntax is broken: nothing after this point can be
		// trusted to line up, so the stream ends here.
		d.done = true
		if isReadError(err) {
			return Record{}, err
		}
		return Record{Line: d.line, Err: jsonError(err)}, nil
	}
	if len(raw) > MaxLineBytes {
		return Record{Line: d.line, Err: fmt.Errorf("element longer than %d bytes", MaxLineBytes)}, nil
	}
	ev, err := ParseJSON(raw)
	return Record{Line: d.line, Event: ev, Err: err}, nil
}

// isReadError tells an error of the underlying reader (including an
// over-limit body) from a JSON syntax error.
func isReadError(err error) bool {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return !errors.As(err, &syn) && !errors.As(err, &typ) && !errors.Is(err, io.ErrUnexpectedEOF) && err != io.EOF
}

func (d *Decoder) nextCSV() (Record, error) {
	if d.header == nil {
		h, err := d.csv.Read()
		if err != nil {
			d.done = true
			if err == io.EOF {
				return Record{}, io.EOF
			}
			if isCSVReadError(err) {
				return Record{}, err
			}
			return Record{Line: 1, Err: fmt.Errorf("header row: %w", err)}, nil
		}
		d.header = make([]string, len(h))
		for i, name := range h {
			name = strings.TrimSpace(strings.TrimPrefix(name, "\xef\xbb\xbf"))
			if _, ok := inputIndex[name]; !ok {
				d.done = true
				return Record{Line: 1, Err: fmt.Errorf("header row: unknown column %q", name)}, nil
			}
			d.header[i] = name
		}
	}
	rec, err := d.csv.Read()
	if err == io.EOF {
		d.done = true
		return Record{}, io.EOF
	}
	d.line++
	if err != nil {
		if isCSVReadError(err) {
			return Record{}, err
		}
		return Record{Line: d.line, Err: err}, nil
	}
	if len(rec) != len(d.header) {
		return Record{Line: d.line, Err: fmt.Errorf("row has %d fields, the header %d", len(rec), len(d.header))}, nil
	}
	ev, perr := parseCSVRow(d.header, rec)
	return Record{Line: d.line, Event: ev, Err: perr}, nil
}

func isCSVReadError(err error) bool {
	var pe *csv.ParseError
	return !errors.As(err, &pe)
}

// parseCSVRow turns a CSV row into a JSON object and parses that, so CSV
// gets the very validation JSON gets. Empty cells are absent fields.
func parseCSVRow(header, rec []string) (usage.Event, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for i, name := range header {
		v := rec[i]
		if v == "" {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		key, _ := json.Marshal(name)
		b.Write(key)
		b.WriteByte(':')
		switch inputs[inputIndex[name]].json {
		case kindInt:
			if _, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil {
				return usage.Event{}, fmt.Errorf("field %q: must be a whole number, not %q", name, v)
			}
			b.WriteString(strings.TrimSpace(v))
		case kindBool:
			bv, err := strconv.ParseBool(strings.ToLower(strings.TrimSpace(v)))
			if err != nil {
				return usage.Event{}, fmt.Errorf("field %q: must be true or false, not %q", name, v)
			}
			b.WriteString(strconv.FormatBool(bv))
		default:
			s, _ := json.Marshal(v)
			b.Write(s)
		}
	}
	b.WriteByte('}')
	return ParseJSON(b.Bytes())
}
