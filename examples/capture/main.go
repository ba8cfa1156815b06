// Command capture is a small orders API that records every call it answers
// in usagelog with the capture middleware. Run usagelog, make a key with the
// EVENTS_WRITE scope, and start it:
//
//	go run ./examples/capture -usagelog http://127.0.0.1:8080 -token "$TOKEN"
//	curl -H 'X-Api-Client: mobile' http://127.0.0.1:8090/orders/42
//
// The call shows in usagelog's API log (collection "Orders API") within a
// second; while usagelog is down, calls wait in -spool and go out when it
// returns.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/usagelog/usagelog/capture"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "address of the orders API")
	server := flag.String("usagelog", "http://127.0.0.1:8080", "usagelog server")
	token := flag.String("token", os.Getenv("USAGELOG_TOKEN"), "usagelog key with the EVENTS_WRITE scope")
	spool := flag.String("spool", "./orders-spool", "where calls wait while usagelog is down")
	flag.Parse()

	rec, err := capture.New(capture.Config{Sink: capture.Server(*server, *token, nil), SpoolDir: *spool})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /orders/{id}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"id":%q,"status":"shipped"}`+"\n", r.PathValue("id"))
	})
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	handler := capture.Handler(mux, capture.Options{
		Recorder:       rec,
		Collection:     "Orders API",
		CollectionType: "proxy",
		Client:         func(r *http.Request) string { return r.Header.Get("X-Api-Client") },
	})

	srv := &http.Server{Addr: *addr, Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Shutdown(context.Background())
	}()
	log.Printf("orders API on http://%s, recording to %s", *addr, *server)
	if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
	// Deliver (or spool) what is still buffered before exiting.
	cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rec.Close(cctx); err != nil {
		log.Print(err)
	}
}
