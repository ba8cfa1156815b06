package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/usagelog/usagelog/internal/otlp"
	"github.com/usagelog/usagelog/internal/usage"
)

// OTLP configures POST /v1/traces.
type OTLP struct {
	// ClientAttributes are the span attributes a call's client is read
	// from; nil: otlp.DefaultClientAttributes.
	ClientAttributes []string
	// KeepQuery records URLs with their query strings.
	KeepQuery bool
}

// otlpResponse is ExportTraceServiceResponse in the OTLP JSON encoding,
// for the API's description.
type otlpResponse struct {
	PartialSuccess *struct {
		RejectedSpans string `json:"rejectedSpans,omitempty" jsonschema:"description=How many spans were not stored (an int64; the OTLP JSON encoding writes it as a string)."`
		ErrorMessage  string `json:"errorMessage,omitempty" jsonschema:"description=How many were rejected and the first one's reason."`
	} `json:"partialSuccess,omitempty"`
}

// otlpStatus is google.rpc.Status in JSON: an error's answer.
type otlpStatus struct {
	Code    int    `json:"code" jsonschema:"description=The gRPC code (3 invalid argument, 7 permission denied, 8 resource exhausted, 14 unavailable, 16 unauthenticated)."`
	Message string `json:"message"`
}

// otlpEncodingOf is r's encoding as its Content-Type says (JSON unless
// protobuf), for answering it.
func otlpEncodingOf(r *http.Request) otlpEncoding {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "application/x-protobuf" {
		return otlpProto
	}
	return otlpJSON
}

// otlpEncoding is a request's OTLP encoding, which its answer uses too.
type otlpEncoding int

const (
	otlpProto otlpEncoding = iota
	otlpJSON
)

// handleTraces is POST /v1/traces: OTLP/HTTP traces, protobuf or JSON,
// plain, gzip or zstd. Its SERVER spans with HTTP attributes are stored as
// API calls of the key's workspace; every other span is counted in the
// answer's partial_success with the first one's reason. Errors are
// google.rpc.Status messages in the request's encoding, as OTLP asks.
func (s *Server) handleTraces(w http.ResponseWriter, r *http.Request, c *caller) error {
	enc := otlpEncodingOf(r)
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != "application/x-protobuf" && mt != "application/json") {
		return usage.Errorf(usage.EUnsupportedMedia, "Content-Type %q is not OTLP: send application/x-protobuf or application/json", ct)
	}
	if r.ContentLength > s.maxBody {
		return usage.Refusal(usage.GatewayPayloadTooLarge, fmt.Sprintf("Payload too large: the body is %d bytes, the limit %d; export smaller batches", r.ContentLength, s.maxBody))
	}
	raw, err := decompressed(w, r, s.maxBody)
	if err != nil {
		return otlpBodyError(err, s.maxBody)
	}
	defer raw.Close()
	body, err := io.ReadAll(raw)
	if err != nil {
		return otlpBodyError(err, s.maxBody)
	}
	req := ptraceotlp.NewExportRequest()
	if enc == otlpProto {
		err = req.UnmarshalProto(body)
	} else {
		err = req.UnmarshalJSON(body)
	}
	if err != nil {
		name := map[otlpEncoding]string{otlpProto: "protobuf", otlpJSON: "JSON"}[enc]
		return usage.Errorf(usage.EInvalid, "the body is not an OTLP ExportTraceServiceRequest in %s: %v", name, err)
	}
	m := otlp.Mapper{ClientAttributes: s.otlp.ClientAttributes, KeepQuery: s.otlp.KeepQuery, Now: s.now(), MaxFuture: s.maxFuture}
	res := m.Map(req.Traces())
	ws := c.Workspace.ID
	for _, name := range res.Collections {
		if err := s.ensureCollection(r.Context(), ws, name); err != nil {
			return err
		}
	}
	batch := ingestBatch
	if b, ok := s.events.(batchSizer); ok {
		batch = b.IngestBatch()
	}
	for events := res.Events; len(events) > 0; {
		n := min(batch, len(events))
		if _, err := s.appendCalls(r.Context(), ws, events[:n]); err != nil {
			if usage.ErrorCode(err) == usage.EInternal {
				// A store that failed may take the spans a moment
				// later: an exporter retries a 503, and the batches
				// stored already come back as duplicates.
				s.log.Error("otlp", "err", err)
				err = usage.Errorf(usage.EUnavailable, "the event store did not take the spans; export them again")
			}
			return err
		}
		events = events[n:]
	}
	s.metrics.countIngest(0, 0, len(res.Rejected))
	resp := ptraceotlp.NewExportResponse()
	if len(res.Rejected) > 0 {
		ps := resp.PartialSuccess()
		ps.SetRejectedSpans(int64(len(res.Rejected)))
		first := res.Rejected[0]
		ps.SetErrorMessage(fmt.Sprintf("%d of %d spans rejected; first: span %s: %s", len(res.Rejected), len(res.Rejected)+len(res.Events), first.Span, first.Reason))
	}
	var out []byte
	if enc == otlpProto {
		out, err = resp.MarshalProto()
	} else {
		out, err = resp.MarshalJSON()
	}
	if err != nil {
		return fmt.Errorf("otlp: answer: %w", err)
	}
	w.Header().Set("Content-Type", map[otlpEncoding]string{otlpProto: "application/x-protobuf", otlpJSON: "application/json"}[enc])
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(out)
	return err
}

// otlpBodyError names what was wrong with reading a body.
func otlpBodyError(err error, max int64) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return usage.Refusal(usage.GatewayPayloadTooLarge, fmt.Sprintf("Payload too large: the body exceeds %d bytes (decompressed); export smaller batches", max))
	}
	return err
}

// appendCalls classifies a batch of events' calls by the workspace's
// rules and stores the batch: ingest's and OTLP's.
func (s *Server) appendCalls(ctx context.Context, workspaceID int64, batch []usage.Event) (usage.AppendResult, error) {
	if err := s.policies.Apply(ctx, workspaceID, batch); err != nil {
		return usage.AppendResult{}, fmt.Errorf("ingest: %w", err)
	}
	ar, err := s.events.Append(ctx, workspaceID, batch)
	if err != nil {
		return ar, fmt.Errorf("ingest: %w", err)
	}
	s.metrics.countIngest(ar.Inserted, ar.Duplicates, 0)
	return ar, nil
}

// ensureCollection creates the proxy collection name in the workspace when
// it has none of that name: a service first seen through OTLP.
func (s *Server) ensureCollection(ctx context.Context, workspaceID int64, name string) error {
	key := collectionKey{workspaceID, name}
	if _, ok := s.knownCollections.Load(key); ok {
		return nil
	}
	_, err := s.meta.CollectionByName(ctx, workspaceID, name)
	if usage.ErrorCode(err) == usage.ENotFound {
		var col usage.Collection
		if col, err = usage.NewCollection(workspaceID, usage.Collection{Name: name, Type: usage.CollectionProxy, Active: true}, s.now()); err != nil {
			return usage.Errorf(usage.EInvalid, "service.name %q: %s", name, usage.ErrorMessage(err))
		}
		if err = s.meta.CreateCollection(ctx, col); usage.ErrorCode(err) == usage.EConflict {
			err = nil // another request made it meanwhile
		}
	}
	if err != nil {
		return fmt.Errorf("otlp: collection %q: %w", name, err)
	}
	s.knownCollections.Store(key, true)
	return nil
}

type collectionKey struct {
	workspaceID int64
	name        string
}

// writeStatusError answers err as OTLP/HTTP asks: the status its code
// calls for and a google.rpc.Status in the request's encoding, with
// Retry-After on 429 and 503 (an exporter retries those).
func (s *Server) writeStatusError(w http.ResponseWriter, r *http.Request, err error) {
	enc := otlpEncodingOf(r)
	status := usage.HTTPStatus(err)
	msg := usage.ErrorMessage(err)
	if status == http.StatusInternalServerError {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if (status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable) && w.Header().Get("Retry-After") == "" {
		w.Header().Set("Retry-After", "5")
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="usagelog"`)
	}
	var e *usage.Error
	if errors.As(err, &e) && e.Gateway != 0 {
		info(r).refusal = e
	}
	// google.rpc.Status: code (field 1, a gRPC code), message (field 2).
	code := grpcCode(status)
	if enc == otlpProto {
		b := protowire.AppendTag(nil, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(code))
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, msg)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(status)
		w.Write(b)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"code":%d,"message":%s}`, code, strconv.Quote(msg))
}

// grpcCode is the gRPC code of an HTTP status, as OTLP pairs them.
func grpcCode(status int) int {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return 3 // INVALID_ARGUMENT
	case http.StatusUnauthorized:
		return 16 // UNAUTHENTICATED
	case http.StatusForbidden:
		return 7 // PERMISSION_DENIED
	case http.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	}
	return 13 // INTERNAL
}
