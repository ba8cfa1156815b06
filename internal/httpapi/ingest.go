package httpapi

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/usage"
)

// ingestBatch is how many events are stored per transaction while a body
// streams in.
const ingestBatch = 2000

// batchSizer is an event store that wants other batches: ClickHouse makes
// a part of every insert, and fewer, larger ones cost less.
type batchSizer interface{ IngestBatch() int }

// maxRejectedListed bounds the rejected list of one answer; the count is
// always complete.
const maxRejectedListed = 1000

type rejection struct {
	Line  int    `json:"line"`
	Error string `json:"error"`
}

// IngestResult is the answer to an ingest call.
type IngestResult struct {
	Accepted      int         `json:"accepted"`
	Duplicates    int         `json:"duplicates"`
	Rejected      []rejection `json:"rejected"`
	RejectedCount int         `json:"rejected_count"`
}

func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request, c *caller) error {
	if r.ContentLength > s.maxBody {
		return usage.Refusal(usage.GatewayPayloadTooLarge, fmt.Sprintf("Payload too large: the body is %d bytes, the limit %d; send the events in smaller batches", r.ContentLength, s.maxBody))
	}
	raw, err := decompressed(w, r, s.maxBody)
	if err != nil {
		return err
	}
	defer raw.Close()
	body := bufio.NewReaderSize(raw, 64<<10)
	format, err := bodyFormat(r, body)
	if err != nil {
		return err
	}
	dec := ingest.NewDecoder(body, format)
	dec.RefuseFuture(s.now(), s.maxFuture)
	res, err := s.ingest(r, c.Workspace.ID, dec)
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		// Batches before the limit are stored; ids make re-sending them
		// harmless, so the answer says what was kept.
		refusal := usage.Refusal(usage.GatewayPayloadTooLarge, fmt.Sprintf("Payload too large: the body exceeds %d bytes; the %d events before the limit were stored, send the rest in smaller batches (re-sent ids are counted as duplicates)", s.maxBody, res.Accepted+res.Duplicates))
		s.writeErrorWith(w, r, refusal, func(b *errorBody) { b.Accepted, b.Duplicates = &res.Accepted, &res.Duplicates })
		return nil
	}
	if err != nil && usage.ErrorCode(err) == usage.EUnavailable {
		// The store is out of reach for now (a ClickHouse cluster's shard
		// or its ZooKeeper): the batches before it are stored.
		msg := fmt.Sprintf("%s; the %d events before them were stored (re-sent ids are counted as duplicates)", usage.ErrorMessage(err), res.Accepted+res.Duplicates)
		w.Header().Set("Retry-After", "5")
		s.writeErrorWith(w, r, usage.Errorf(usage.EUnavailable, "%s", msg), func(b *errorBody) {
			b.Accepted, b.Duplicates, b.Rejected, b.RejectedCount = &res.Accepted, &res.Duplicates, &res.Rejected, &res.RejectedCount
		})
		return nil
	}
	if err != nil && usage.ErrorCode(err) == usage.EInvalid {
		// A body cut short (a truncated gzip stream): the batches before
		// the break are stored, and the answer says so, as a 413 does.
		msg := fmt.Sprintf("%s; the %d events before it were stored, send the rest again (re-sent ids are counted as duplicates)", usage.ErrorMessage(err), res.Accepted+res.Duplicates)
		s.writeErrorWith(w, r, usage.Errorf(usage.EInvalid, "%s", msg), func(b *errorBody) {
			b.Accepted, b.Duplicates, b.Rejected, b.RejectedCount = &res.Accepted, &res.Duplicates, &res.Rejected, &res.RejectedCount
		})
		return nil
	}
	if err != nil {
		return err
	}
	if res.Accepted+res.Duplicates == 0 {
		msg := "the body holds no events"
		if len(res.Rejected) > 0 {
			msg = fmt.Sprintf("no valid event: line %d: %s", res.Rejected[0].Line, res.Rejected[0].Error)
		}
		s.writeErrorWith(w, r, usage.Errorf(usage.EInvalid, "%s", msg), func(b *errorBody) {
			b.Accepted, b.Duplicates, b.Rejected, b.RejectedCount = &res.Accepted, &res.Duplicates, &res.Rejected, &res.RejectedCount
		})
		return nil
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// ingest decodes and stores events in batches as they stream in.
func (s *Server) ingest(r *http.Request, workspaceID int64, dec *ingest.Decoder) (IngestResult, error) {
	res := IngestResult{Rejected: []rejection{}}
	store := func(ctx context.Context, batch []usage.Event) (usage.AppendResult, error) {
		return s.appendCalls(ctx, workspaceID, batch)
	}
	batch := ingestBatch
	if b, ok := s.events.(batchSizer); ok {
		batch = b.IngestBatch()
	}
	sum, err := ingest.Load(r.Context(), dec, batch, store, func(rec ingest.Record) {
		s.metrics.countIngest(0, 0, 1)
		if len(res.Rejected) < maxRejectedListed {
			res.Rejected = append(res.Rejected, rejection{Line: rec.Line, Error: rec.Err.Error()})
		}
	})
	res.Accepted, res.Duplicates, res.RejectedCount = sum.Accepted, sum.Duplicates, sum.Rejected
	return res, err
}

// decompressed is the body as its Content-Encoding (none, gzip or zstd)
// gives it, its decompressed bytes bounded by max: a small body that
// inflates past it is refused as too large (a *http.MaxBytesError), as a
// large one is, and memory stays flat, the body streaming through. An
// encoding not taken is usage.EUnsupportedMedia.
func decompressed(w http.ResponseWriter, r *http.Request, max int64) (io.ReadCloser, error) {
	body := http.MaxBytesReader(w, r.Body, max)
	var dec io.ReadCloser
	switch enc := strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
		return body, nil
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				return nil, err
			}
			return nil, usage.Errorf(usage.EInvalid, "Content-Encoding gzip: the body is not gzip: %v", err)
		}
		dec = zr
	case "zstd":
		zr, err := zstd.NewReader(body, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(8<<20))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		dec = zr.IOReadCloser()
	default:
		return nil, usage.Errorf(usage.EUnsupportedMedia, "Content-Encoding %q is not taken: send the body as is, gzip or zstd", enc)
	}
	return struct {
		io.Reader
		io.Closer
	}{http.MaxBytesReader(w, invalidOnError{dec}, max), multiCloser{dec, body}}, nil
}

// invalidOnError makes a decompressor's errors the caller's: a corrupt
// stream is bad input (400), not a server failure.
type invalidOnError struct{ r io.ReadCloser }

func (e invalidOnError) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	var tooLarge *http.MaxBytesError
	if err != nil && err != io.EOF && !errors.As(err, &tooLarge) {
		err = usage.Errorf(usage.EInvalid, "the compressed body is corrupt: %v", err)
	}
	return n, err
}

func (e invalidOnError) Close() error { return e.r.Close() }

type multiCloser []io.Closer

func (m multiCloser) Close() error {
	var errs []error
	for _, c := range m {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// bodyFormat decides how to decode a body from its Content-Type, looking at
// its first bytes when the type allows both a JSON array and NDJSON.
func bodyFormat(r *http.Request, body *bufio.Reader) (ingest.Format, error) {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return ingest.Sniff(body), nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return 0, usage.Errorf(usage.EInvalid, "invalid Content-Type %q", ct)
	}
	switch mt {
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines":
		return ingest.NDJSON, nil
	case "application/json":
		if f := ingest.Sniff(body); f == ingest.JSONArray {
			return f, nil
		}
		return ingest.NDJSON, nil
	case "text/csv":
		return ingest.CSV, nil
	}
	return 0, usage.Errorf(usage.EInvalid, "unsupported Content-Type %q (want application/x-ndjson, application/json or text/csv)", mt)
}
