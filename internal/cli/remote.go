package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usagelog/usagelog/internal/jobs"
	"github.com/usagelog/usagelog/internal/usage"
)

// apiClient calls a running usagelog's API with a key.
type apiClient struct {
	base, token string
	http        *http.Client
}

func newAPIClient(server, token string) (*apiClient, error) {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef("--server %q: want a URL such as http://127.0.0.1:8080", server)
	}
	if token == "" {
		return nil, usagef("--server needs --token")
	}
	return &apiClient{base: strings.TrimSuffix(server, "/"), token: token, http: &http.Client{Timeout: 5 * time.Minute}}, nil
}

// call sends body as JSON and decodes the answer into out; an error
// answer becomes an error carrying the server's message.
func (c *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return fmt.Errorf("server: %s (%s)", e.Error.Message, resp.Status)
		}
		return fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// exportRemote runs the export as a job of the server: a progress bar fed
// by the job's progress, then the file downloaded to out. Interrupting
// cancels the job.
func exportRemote(ctx context.Context, env Env, c *apiClient, report string, q url.Values, out string, quiet bool) error {
	spec := usage.ExportSpec{Report: report, Format: q.Get("format"), Timezone: q.Get("tz"), Filters: usage.FilterValues{}}
	for k, v := range q {
		if k != "format" && k != "tz" {
			spec.Filters[k] = v
		}
	}
	start := time.Now()
	var j jobs.View
	if err := c.call(ctx, http.MethodPost, "/api/v1/exports", spec, &j); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "export job %s queued\n", j.ID)
	// The bar appears once the server knows the total (a spinner's own
	// goroutine would race with a later change of its maximum).
	var bar interface {
		Set64(int64) error
		Finish() error
	}
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for !j.Status.Final() {
		select {
		case <-ctx.Done():
			// Best effort: the job should not run on for no one.
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := c.call(cctx, http.MethodDelete, "/api/v1/exports/"+j.ID, nil, nil); err == nil {
				fmt.Fprintf(env.Stderr, "\ncancelled export job %s\n", j.ID)
			}
			return ctx.Err()
		case <-tick.C:
		}
		if err := c.call(ctx, http.MethodGet, "/api/v1/exports/"+j.ID, nil, &j); err != nil {
			return err
		}
		if bar == nil && !quiet && j.RowsTotal != nil && *j.RowsTotal > 0 {
			bar = newProgressBar(env, report, *j.RowsTotal, "rows")
		}
		if bar != nil {
			bar.Set64(j.RowsWritten)
		}
	}
	if bar != nil {
		bar.Finish()
	}
	if j.Status != usage.JobSucceeded {
		return fmt.Errorf("export job %s %s: %s", j.ID, j.Status, j.Error)
	}
	_, size, err := writeExport(ctx, out, env, func(w io.Writer) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.DownloadURL, nil)
		if err != nil {
			return 0, err
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return 0, fmt.Errorf("download: %w", err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("download: %s", resp.Status)
		}
		_, err = io.Copy(w, resp.Body)
		return 0, err
	})
	if err != nil {
		return err
	}
	if out != "-" {
		records := int64(0)
		if j.RecordCount != nil {
			records = *j.RecordCount
		}
		fmt.Fprintf(env.Stderr, "wrote %d rows (%s, %d bytes) to %s in %s\n", records, j.Format, size, out, time.Since(start).Round(time.Millisecond))
	}
	return nil
}
