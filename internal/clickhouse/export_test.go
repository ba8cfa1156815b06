package clickhouse

// SetChunkRows makes s scan in pieces of at least n events.
func SetChunkRows(s *Store, n int64) { s.chunkRows = n }
