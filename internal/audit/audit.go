// Package audit records who did what in a workspace: keys, members and
// usagelog itself, the action, its target, the client's address and the
// details. Entries go to the metadata store through a bounded buffer, so
// recording never holds up the action it records; while the store does
// not take them, actions that check Ready fail rather than go unrecorded.
package audit

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/usagelog/usagelog/internal/export"
	"github.com/usagelog/usagelog/internal/usage"
)

// Config configures a Log.
type Config struct {
	Store  usage.AuditStore
	Logger *slog.Logger
	Now    func() time.Time
	// Buffer is how many entries may wait to be written (default 4,096);
	// FlushEvery bounds how long one waits (default 100 ms).
	Buffer     int
	FlushEvery time.Duration
}

// Log records audit entries.
type Log struct {
	cfg  Config
	log  *slog.Logger
	in   chan usage.AuditEntry
	done chan struct{}

	mu   sync.Mutex
	down error // the last write's failure; nil once one succeeds
}

// New starts a log; Close writes what it holds.
func New(cfg Config) (*Log, error) {
	if cfg.Store == nil {
		return nil, errors.New("audit: a store is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Buffer <= 0 {
		cfg.Buffer = 4096
	}
	if cfg.FlushEvery <= 0 {
		cfg.FlushEvery = 100 * time.Millisecond
	}
	l := &Log{cfg: cfg, log: cfg.Logger, in: make(chan usage.AuditEntry, cfg.Buffer), done: make(chan struct{})}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	go l.write()
	return l, nil
}

// Unavailable is the answer to an action while the audit log cannot be
// written: the action is refused rather than left unrecorded.
var Unavailable = usage.Errorf(usage.EUnavailable, "the audit log cannot be written right now, so this is refused; try again shortly")

// Ready says whether actions may go ahead: nil unless the store refused
// the last write (or the buffer is full).
func (l *Log) Ready() error {
	if l == nil {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down != nil || len(l.in) == cap(l.in) {
		return Unavailable
	}
	return nil
}

// Record queues an entry, giving it an id and the time when it has none.
// It waits at most a second for room in a full buffer, then answers
// Unavailable.
func (l *Log) Record(e usage.AuditEntry) error {
	if l == nil {
		return nil
	}
	if e.ID == "" {
		e.ID = usage.RandomID("aud_", 10)
	}
	if e.Time.IsZero() {
		e.Time = l.cfg.Now()
	}
	e.Time = e.Time.UTC().Truncate(time.Millisecond)
	if e.Details == nil {
		e.Details = map[string]any{}
	}
	select {
	case l.in <- e:
		return nil
	default:
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case l.in <- e:
		return nil
	case <-t.C:
		l.log.Error("audit: buffer full, an action is refused", "action", e.Action)
		return Unavailable
	}
}

// write takes entries in batches of at most maxBatch, gathered for up to
// FlushEvery after the first, and writes each until the store takes it,
// in order. While the store refuses a batch, nothing more is taken: the
// buffer fills and Record refuses.
func (l *Log) write() {
	defer close(l.done)
	const maxBatch = 256
	var batch []usage.AuditEntry
	open := true
	for {
		if open && len(batch) == 0 {
			if e, ok := <-l.in; ok {
				batch = append(batch, e)
			} else {
				open = false
			}
		}
		deadline := time.After(l.cfg.FlushEvery)
	gather:
		for open && len(batch) < maxBatch {
			select {
			case e, ok := <-l.in:
				if !ok {
					open = false
					break gather
				}
				batch = append(batch, e)
			case <-deadline:
				break gather
			}
		}
		if len(batch) == 0 {
			return // closed and drained
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := l.cfg.Store.AppendAudit(ctx, batch)
		cancel()
		l.mu.Lock()
		l.down = err
		l.mu.Unlock()
		if err != nil {
			if !open {
				l.log.Error("audit: closing with entries the store refused", "entries", len(batch), "err", err)
				return
			}
			l.log.Error("audit: entries not written yet; actions are refused until they are", "entries", len(batch), "err", err)
			time.Sleep(5 * l.cfg.FlushEvery)
			continue
		}
		batch = batch[:0]
	}
}

// Close writes what is queued and stops.
func (l *Log) Close() {
	if l == nil {
		return
	}
	close(l.in)
	<-l.done
}

// Fields are the columns of an audit log download (the console's
// and `usagelog audit`'s).
var Fields = []export.Field{
	{Header: "Time", Kind: export.Text},
	{Header: "Actor type", Kind: export.Text}, {Header: "Actor ID", Kind: export.Text}, {Header: "Actor name", Kind: export.Text},
	{Header: "Action", Kind: export.Text}, {Header: "Target", Kind: export.Text}, {Header: "IP", Kind: export.Text}, {Header: "Details", Kind: export.Text},
}

// Values is an entry as a row of Fields.
func Values(e usage.AuditEntry) []export.Value {
	details, _ := json.Marshal(e.Details)
	return []export.Value{{S: e.Time.UTC().Format("2006-01-02T15:04:05.000Z")}, {S: e.Actor.Type}, {S: e.Actor.ID}, {S: e.Actor.Name}, {S: e.Action}, {S: e.Target}, {S: e.IP}, {S: string(details)}}
}

// Linker makes download links through Links and records each as an
// export.download of the file's workspace when it is made: for presigned
// links of a bucket, which are used where usagelog does not see them.
type Linker struct {
	Links interface {
		URL(path string, now time.Time) string
	}
	Log *Log
}

// URL makes the link and records it.
func (l Linker) URL(path string, now time.Time) string {
	if ws, ok := usage.FileWorkspace(path); ok {
		if err := l.Log.Record(usage.AuditEntry{WorkspaceID: ws, Actor: usage.Actor{Type: usage.ActorSystem, ID: "presigned-link", Name: "presigned download link"},
			Action: usage.AuditExportDownload, Target: path, Details: map[string]any{"presigned": true, "made": now.UTC()}}); err != nil && l.Log != nil {
			l.Log.log.Error("audit: a presigned link not recorded", "path", path, "err", err)
		}
	}
	return l.Links.URL(path, now)
}
