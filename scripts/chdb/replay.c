// replay runs each line of stdin (one SQL statement) through libchdb, the
// ClickHouse engine of a current release in-process (chDB), on one
// connection, and prints OK or the error for each; it exits 1 if any
// failed. Used by scripts/clickhouse-current-sql.sh.
//
// usage: replay LIBCHDB.so DATA_DIR < statements.sql
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void **(*connect_fn)(int, char **);
typedef void *(*query_fn)(void *, const char *, const char *);
typedef char *(*buf_fn)(void *);
typedef const char *(*err_fn)(void *);
typedef void (*destroy_fn)(void *);

int main(int argc, char **argv) {
  void *h = dlopen(argv[1], RTLD_NOW);
  if (!h) { fprintf(stderr, "dlopen: %s\n", dlerror()); return 1; }
  connect_fn connect = (connect_fn)dlsym(h, "chdb_connect");
  query_fn query = (query_fn)dlsym(h, "chdb_query");
  buf_fn buffer = (buf_fn)dlsym(h, "chdb_result_buffer");
  err_fn error = (err_fn)dlsym(h, "chdb_result_error");
  destroy_fn destroy = (destroy_fn)dlsym(h, "chdb_destroy_query_result");
  char path[4096]; snprintf(path, sizeof path, "--path=%s", argv[2]);
  char *args[] = {"clickhouse", path};
  void **conn = connect(2, args);
  if (!conn) { fprintf(stderr, "connect failed\n"); return 1; }
  static char line[1 << 22];
  int ok = 0, bad = 0;
  while (fgets(line, sizeof line, stdin)) {
    size_t n = strlen(line);
    while (n && (line[n-1] == '\n' || line[n-1] == '\r')) line[--n] = 0;
    if (!n) continue;
    void *r = query(*conn, line, "TSV");
    const char *e = r ? error(r) : "no result";
    if (e && *e) { bad++; printf("ERROR\t%s\t%s\n", line, e); }
    else { ok++; char *b = buffer(r); printf("OK\t%.300s\t%.300s\n", line, b ? b : ""); }
    if (r) destroy(r);
    fflush(stdout);
  }
  fprintf(stderr, "%d ok, %d failed\n", ok, bad);
  return bad != 0;
}
