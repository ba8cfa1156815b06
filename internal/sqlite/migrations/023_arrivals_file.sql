-- The arrivals move to a file of their own beside the store's: appends
-- write that file and the merge this one, each with a writer of its own
-- (arrivals_file.go). This migration is Go, not SQL: settleArrivals runs in
-- its place, in one transaction over both files, and records it.
SELECT 1;
