package sqlite

import "context"

// ForgetRollups makes s a store from before the rollups: their tables gone
// and their migration not applied.
func ForgetRollups(ctx context.Context, s *Store) error {
	for _, q := range []string{"DROP TABLE rollup_series", "DROP TABLE rollup_dims", "DROP TABLE rollup_calls",
		"DELETE FROM schema_migrations WHERE version = 6"} {
		if _, err := s.write.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
