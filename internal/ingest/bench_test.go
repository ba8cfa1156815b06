package ingest_test

import (
	"bytes"
	"io"
	"testing"

	"github.com/usagelog/usagelog/internal/ingest"
	"github.com/usagelog/usagelog/internal/storetest"
)

// ndjsonBody encodes n fixture events as NDJSON.
func ndjsonBody(tb testing.TB, n int) []byte {
	var buf bytes.Buffer
	for _, e := range storetest.Fixture(n) {
		b, err := ingest.MarshalJSON(&e)
		if err != nil {
			tb.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func BenchmarkDecodeNDJSON(b *testing.B) {
	const n = 10000
	body := ndjsonBody(b, n)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		dec := ingest.NewDecoder(bytes.NewReader(body), ingest.NDJSON)
		for {
			rec, err := dec.Next()
			if err == io.EOF {
				break
			}
			if err != nil || rec.Err != nil {
				b.Fatal(err, rec.Err)
			}
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "events/s")
}
