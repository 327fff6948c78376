package soma_test

import (
	"context"
	"fmt"
	"log"

	"github.com/somafractalmemory/soma"
)

// Open runs the whole memory system inside the program. With ModeTest and
// nothing else configured it lives on a temporary embedded store removed
// by Close; set Settings (POSTGRES_URL, QDRANT_URL, KAFKA_BOOTSTRAP_SERVERS,
// …) to wire it to the external services instead.
func ExampleOpen() {
	ctx := context.Background()
	mem, err := soma.Open(ctx, soma.Config{Mode: soma.ModeTest, Namespace: "agent-7", Settings: map[string]string{"SOMA_LOG_LEVEL": "warn"}})
	if err != nil {
		log.Fatal(err)
	}
	defer mem.Close()

	facts := []soma.StoreRequest{
		{Coordinate: soma.Coordinate{1, 0}, Payload: map[string]any{"text": "Paris is the capital of France"}, Type: soma.Semantic},
		{Coordinate: soma.Coordinate{2, 0}, Payload: map[string]any{"text": "the meeting with Ana moved to Friday"}},
		{Coordinate: soma.Coordinate{3, 0}, Payload: map[string]any{"text": "Ana prefers morning meetings"}},
	}
	if _, err := mem.StoreBulk(ctx, facts); err != nil {
		log.Fatal(err)
	}
	if _, err := mem.Link(ctx, soma.LinkRequest{From: soma.Coordinate{2, 0}, To: soma.Coordinate{3, 0}, Type: "about"}); err != nil {
		log.Fatal(err)
	}

	matches, err := mem.Recall(ctx, soma.RecallRequest{Query: "when is the meeting with Ana", TopK: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(matches[0].Coordinate, matches[0].Payload["text"])

	path, err := mem.ShortestPath(ctx, soma.Coordinate{2, 0}, soma.Coordinate{3, 0}, "about")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(path)

	stats, err := mem.Stats(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(stats.TotalMemories, "memories,", stats.Semantic, "semantic")
	// Output:
	// 2,0 the meeting with Ana moved to Friday
	// [2,0 3,0]
	// 3 memories, 1 semantic
}

// A Memory is either an in-process System or a Client of a running
// service: code written against the interface works with both.
func ExampleMemory() {
	remember := func(ctx context.Context, m soma.Memory, text string) (soma.Coordinate, error) {
		res, err := m.Remember(ctx, soma.StoreRequest{Payload: map[string]any{"text": text}})
		return res.Coordinate, err
	}
	mem, err := soma.Open(context.Background(), soma.Config{Mode: soma.ModeTest, Settings: map[string]string{"SOMA_LOG_LEVEL": "warn"}})
	if err != nil {
		log.Fatal(err)
	}
	defer mem.Close()
	coord, err := remember(context.Background(), mem, "a generated coordinate")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(coord) > 0)
	// Output: true
}
