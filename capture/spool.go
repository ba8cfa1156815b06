package capture

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

// spool keeps batches that could not be delivered, one NDJSON file of
// ingest-contract events per batch, named by a rising sequence number so
// they go out in the order they came. A file appears whole (written aside,
// then renamed) and is removed only once delivered, so a crash loses
// nothing that was spooled and a restart picks the files up.
type spool struct {
	dir   string
	limit int64 // bytes

	mu    sync.Mutex
	segs  []segment // oldest first
	bytes int64
	next  uint64
}

type segment struct {
	seq    uint64
	size   int64
	events int
}

const segmentExt = ".ndjson"

// openSpool reads what an earlier run left in dir.
func openSpool(dir string, limit int64) (*spool, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("capture: spool: %w", err)
	}
	s := &spool{dir: dir, limit: limit}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("capture: spool: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".tmp") {
			_ = os.Remove(filepath.Join(dir, name)) // a write the crash cut short
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segmentExt), 10, 64)
		if err != nil || !strings.HasSuffix(name, segmentExt) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		n, err := countLines(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("capture: spool: %w", err)
		}
		s.segs = append(s.segs, segment{seq: seq, size: info.Size(), events: n})
		s.bytes += info.Size()
		s.next = max(s.next, seq+1)
	}
	slices.SortFunc(s.segs, func(a, b segment) int { return cmp.Compare(a.seq, b.seq) })
	return s, nil
}

func countLines(path string) (int, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return bytes.Count(data, []byte{'\n'}), nil
}

func (s *spool) path(seq uint64) string {
	return filepath.Join(s.dir, fmt.Sprintf("%020d%s", seq, segmentExt))
}

// empty reports whether nothing waits.
func (s *spool) empty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.segs) == 0
}

// waiting returns how many events wait.
func (s *spool) waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, g := range s.segs {
		n += g.events
	}
	return n
}

var errSpoolFull = errors.New("spool full")

// put writes a batch; errSpoolFull when it would pass the byte limit.
func (s *spool) put(events []Event) error {
	var buf bytes.Buffer
	for i := range events {
		u := events[i].stored()
		b, err := ingest.MarshalJSON(&u)
		if err != nil {
			return fmt.Errorf("capture: spool: %w", err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	s.mu.Lock()
	if s.bytes+int64(buf.Len()) > s.limit {
		s.mu.Unlock()
		return errSpoolFull
	}
	seq := s.next
	s.next++
	s.bytes += int64(buf.Len()) // reserved before the write, so writers cannot overshoot together
	s.mu.Unlock()

	final := s.path(seq)
	tmp := final + ".tmp"
	err := os.WriteFile(tmp, buf.Bytes(), 0o600)
	if err == nil {
		err = os.Rename(tmp, final)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		_ = os.Remove(tmp)
		s.bytes -= int64(buf.Len())
		return fmt.Errorf("capture: spool: %w", err)
	}
	g := segment{seq: seq, size: int64(buf.Len()), events: len(events)}
	i, _ := slices.BinarySearchFunc(s.segs, seq, func(g segment, seq uint64) int { return cmp.Compare(g.seq, seq) })
	s.segs = slices.Insert(s.segs, i, g)
	return nil
}

// oldest reads the oldest batch. Lines that do not parse (a file damaged
// on disk) are skipped and counted in bad.
func (s *spool) oldest() (seg segment, events []Event, bad int, ok bool, err error) {
	s.mu.Lock()
	if len(s.segs) == 0 {
		s.mu.Unlock()
		return segment{}, nil, 0, false, nil
	}
	seg = s.segs[0]
	s.mu.Unlock()
	f, err := os.Open(s.path(seg.seq))
	if errors.Is(err, fs.ErrNotExist) {
		s.remove(seg)
		return seg, nil, 0, true, nil
	}
	if err != nil {
		return seg, nil, 0, true, fmt.Errorf("capture: spool: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		e, err := ingest.ParseJSON(sc.Bytes())
		if err != nil || e.Kind != usage.KindAPIRequest {
			bad++
			continue
		}
		events = append(events, eventOf(&e))
	}
	if err := sc.Err(); err != nil {
		bad++
	}
	return seg, events, bad, true, nil
}

// remove forgets a delivered batch.
func (s *spool) remove(seg segment) {
	_ = os.Remove(s.path(seg.seq))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, g := range s.segs {
		if g.seq == seg.seq {
			s.segs = slices.Delete(s.segs, i, i+1)
			s.bytes -= g.size
			return
		}
	}
}
