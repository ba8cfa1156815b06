package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/usagelog/usagelog/internal/usage"
)

// Client sends events to a usagelog server's ingest endpoint.
type Client struct {
	// BaseURL is the server, such as http://127.0.0.1:8080.
	BaseURL string
	// Token is a key with the EVENTS_WRITE scope.
	Token string
	HTTP  *http.Client
}

// Result is the server's answer to one batch.
type Result struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
	Rejected   []struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	} `json:"rejected"`
}

// Send posts events as one NDJSON batch, gzipped: NDJSON of calls shrinks
// to a tenth or less, and the server's body limit applies to what it
// decompresses.
func (c *Client) Send(ctx context.Context, events []usage.Event) (Result, error) {
	var body bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&body, gzip.BestSpeed) // only a bad level fails
	for i := range events {
		b, err := MarshalJSON(&events[i])
		if err != nil {
			return Result{}, fmt.Errorf("ingest client: %w", err)
		}
		zw.Write(b) // a bytes.Buffer takes every write
		zw.Write([]byte{'\n'})
	}
	if err := zw.Close(); err != nil {
		return Result{}, fmt.Errorf("ingest client: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.BaseURL, "/")+"/api/v1/events", &body)
	if err != nil {
		return Result{}, fmt.Errorf("ingest client: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("ingest client: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return Result{}, fmt.Errorf("ingest client: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
			return Result{}, &ServerError{Status: resp.StatusCode, Message: e.Error.Message}
		}
		return Result{}, &ServerError{Status: resp.StatusCode, Message: strings.TrimSpace(string(data))}
	}
	var res Result
	if err := json.Unmarshal(data, &res); err != nil {
		return Result{}, fmt.Errorf("ingest client: bad answer: %w", err)
	}
	return res, nil
}

// ServerError is a refusal by the server.
type ServerError struct {
	Status  int
	Message string
}

func (e *ServerError) Error() string {
	return fmt.Sprintf("server answered %d: %s", e.Status, e.Message)
}

// IsServerError reports whether err is a refusal by the server (as opposed
// to the server being unreachable).
func IsServerError(err error) bool {
	var se *ServerError
	return errors.As(err, &se)
}
