// Command fakeqdrant serves the in-process Qdrant double (internal/qdrantfake)
// over gRPC on a loopback address, for benchmarks and local runs of the
// evented stack on machines without Qdrant. It is not a speed reference.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/somafractalmemory/soma/internal/qdrantfake"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:16334", "listen address (loopback)")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
	s := qdrantfake.New()
	go func() {
		ch := make(chan os.Signal, 1)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		<-ch
		s.Stop()
	}()
	fmt.Fprintf(os.Stderr, "Qdrant double (gRPC) on %s\n", *addr)
	if err := s.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
