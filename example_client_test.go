package soma_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/somafractalmemory/soma"
	"github.com/somafractalmemory/soma/internal/app"
	"github.com/somafractalmemory/soma/internal/config"
)

// serviceURL is the write API of the in-process service the examples and
// tests talk to (soma serve on a temporary embedded store).
var serviceURL string

func TestMain(m *testing.M) {
	ctx, cancel := context.WithCancel(context.Background())
	stop, err := startService(ctx)
	if err != nil {
		log.Fatalf("start the service: %v", err)
	}
	code := m.Run()
	cancel()
	stop()
	os.Exit(code)
}

// startService runs the whole service in this process on loopback ports,
// with a temporary embedded store, and waits until it is healthy.
func startService(ctx context.Context) (stop func(), err error) {
	cfg, err := config.Load(config.MapLookup(map[string]string{
		"MEMORY_MODE": config.ModeTest, "SOMA_RATE_LIMIT_MAX": "0", "SOMA_LOG_LEVEL": "error",
	}))
	if err != nil {
		return nil, err
	}
	apiLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	queryLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rt := app.New(cfg, "test")
	done := make(chan error, 1)
	go func() { done <- rt.Serve(ctx, apiLn, queryLn, nil) }()
	stop = func() { <-done; rt.Close() }
	serviceURL = "http://" + apiLn.Addr().String()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(serviceURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return stop, nil
			}
		}
		select {
		case err := <-done:
			return nil, fmt.Errorf("service stopped: %v", err)
		case <-time.After(50 * time.Millisecond): // poll interval
		}
	}
	return nil, errors.New("service not healthy after 60s")
}

func Example() {
	ctx := context.Background()
	client, err := soma.NewClient(soma.ClientConfig{URL: serviceURL, Namespace: "example-quickstart"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	for _, m := range []struct {
		coord string
		text  string
	}{
		{"1,2,3", "apples grow on trees"},
		{"4,5,6", "the ocean is deep"},
	} {
		coord, err := soma.ParseCoordinate(m.coord)
		if err != nil {
			log.Fatal(err)
		}
		if _, err := client.Store(ctx, soma.StoreRequest{Coordinate: coord, Payload: map[string]any{"text": m.text}}); err != nil {
			log.Fatal(err)
		}
	}

	// The client sends the consistency token of its stores, so the
	// recall sees them.
	matches, err := client.Recall(ctx, soma.RecallRequest{Query: "apples", TopK: 1})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range matches {
		fmt.Println(r.Coordinate, r.Type, r.Payload["text"])
	}
	// Output:
	// 1,2,3 episodic apples grow on trees
}

func ExampleClient_Link() {
	ctx := context.Background()
	client, err := soma.NewClient(soma.ClientConfig{URL: serviceURL, Namespace: "example-graph"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	a, b, c := soma.Coordinate{1}, soma.Coordinate{2}, soma.Coordinate{3}
	for _, co := range []soma.Coordinate{a, b, c} {
		if _, err := client.Store(ctx, soma.StoreRequest{Coordinate: co, Payload: map[string]any{}}); err != nil {
			log.Fatal(err)
		}
	}
	links := []soma.LinkRequest{
		{From: a, To: b}, // weight: soma.DefaultLinkWeight (1)
		{From: b, To: c, Type: "next"},
		{From: a, To: c, Weight: soma.Weight(5)},
	}
	for _, l := range links {
		if _, err := client.Link(ctx, l); err != nil {
			log.Fatal(err)
		}
	}

	path, err := client.ShortestPath(ctx, a, c, "")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("path:", path)
	edges, err := client.Neighbors(ctx, a, soma.NeighborsOptions{})
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range edges {
		fmt.Println(e.From, "->", e.To, e.Type, e.Weight)
	}
	// Output:
	// path: [1 2 3]
	// 1 -> 2 related 1
	// 1 -> 3 related 5
}

func ExampleClient_Get_notFound() {
	client, err := soma.NewClient(soma.ClientConfig{URL: serviceURL, Namespace: "example-errors"})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	_, err = client.Get(context.Background(), soma.Coordinate{42})
	fmt.Println(errors.Is(err, soma.ErrNotFound))
	var apiErr *soma.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.Status)
	}
	// Output:
	// true
	// 404
}

func ExampleClient_Export() {
	ctx := context.Background()
	src, err := soma.NewClient(soma.ClientConfig{URL: serviceURL, Namespace: "example-export"})
	if err != nil {
		log.Fatal(err)
	}
	defer src.Close()
	_, err = src.StoreBulk(ctx, []soma.StoreRequest{
		{Coordinate: soma.Coordinate{1, 1}, Payload: map[string]any{"text": "first"}},
		{Coordinate: soma.Coordinate{2, 2}, Payload: map[string]any{"text": "second"}, Type: soma.Semantic},
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := src.Link(ctx, soma.LinkRequest{From: soma.Coordinate{1, 1}, To: soma.Coordinate{2, 2}}); err != nil {
		log.Fatal(err)
	}

	var buf bytes.Buffer
	n, err := src.Export(ctx, &buf)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("exported records:", n)

	dst, err := soma.NewClient(soma.ClientConfig{URL: serviceURL, Namespace: "example-import"})
	if err != nil {
		log.Fatal(err)
	}
	defer dst.Close()
	res, err := dst.Import(ctx, &buf, false)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("imported:", res.Imported, "links:", res.Links)
	st, err := dst.Stats(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", st)
	// Output:
	// exported records: 2
	// imported: 2 links: 1
	// {TotalMemories:2 Episodic:1 Semantic:1}
}
