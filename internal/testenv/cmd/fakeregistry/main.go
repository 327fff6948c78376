// Command fakeregistry serves franz-go's in-memory Confluent-compatible
// schema registry (srfake) on a loopback address, for benchmarks and local
// runs of the evented stack on machines without Apicurio. It accepts every
// compatibility check: `soma schemas check` is the real one.
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/sr/srfake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:18081", "listen address (loopback)")
	flag.Parse()
	reg := srfake.NewRegistry()
	srv := &http.Server{Addr: *addr, Handler: reg.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		<-ch
		_ = srv.Close()
	}()
	fmt.Fprintf(os.Stderr, "fake schema registry on http://%s\n", *addr)
	if err := srv.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
