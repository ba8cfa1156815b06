package cli_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usagelog/usagelog/internal/cli"
	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/storetest"
)

// BenchmarkIngestFile runs `usagelog ingest FILE --data DIR` into a new
// store on an NDJSON file of USAGELOG_BENCH_INGEST_EVENTS calls (default
// 1,000,000; storetest.ArrivalEvent's) in time order and in random time
// order, with transactions of 5,000 events (the size before --batch) and
// of the default: events/s end to end, decoding included.
func BenchmarkIngestFile(b *testing.B) {
	n := storetest.EnvInt(b, "USAGELOG_BENCH_INGEST_EVENTS", 1_000_000)
	dir := b.TempDir()
	for _, order := range []string{"time", "random"} {
		file := filepath.Join(dir, order+".ndjson")
		writeArrivalFile(b, file, n, order == "random")
		for _, batch := range []int{5000, 0} {
			name := "order=" + order + "/batch=" + strconv.Itoa(batch)
			if batch == 0 {
				name = "order=" + order + "/batch=default"
			}
			b.Run(name, func(b *testing.B) {
				for range b.N {
					var errb strings.Builder
					start := time.Now()
					code := cli.Run(context.Background(), []string{"ingest", "--data", b.TempDir(), "--batch", strconv.Itoa(batch), file},
						cli.Env{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: &errb, Getenv: func(string) string { return "" }})
					if code != 0 {
						b.Fatalf("exit %d: %s", code, errb.String())
					}
					b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
				}
			})
		}
	}
}

func writeArrivalFile(b *testing.B, path string, n int, random bool) {
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	idx := storetest.ArrivalOrder(n, random)
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for _, i := range idx {
		e := storetest.ArrivalEvent(int(i), n, end)
		line, err := ingest.MarshalJSON(&e)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(line)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
}
