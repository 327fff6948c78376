package bench

import (
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Workload shapes. Changing one changes every workload of every seed.
const (
	// Dims is the number of coordinate dimensions.
	Dims = 3
	// MinWords and MaxWords bound the length of a memory's text.
	MinWords, MaxWords = 8, 20
	// MinQueryWords and MaxQueryWords bound the length of a recall query.
	MinQueryWords, MaxQueryWords = 3, 8
	// MaxImportance bounds the raw importance (uniform in [0, MaxImportance)).
	MaxImportance = 10.0
	// SemanticEvery makes one memory in SemanticEvery semantic (on average).
	SemanticEvery = 4

	// coordSpan is the range of the random coordinate dimensions.
	coordSpan = 1000.0
	// streamMemory and streamQuery separate the random streams of memories
	// and queries of one seed: item i of stream s is seeded (seed, 2i+s).
	streamMemory = 0
	streamQuery  = 1
)

// Memory is one generated memory: what a client stores.
type Memory struct {
	// Index is the position in the workload; it is also the first
	// coordinate dimension, so coordinates never collide.
	Index int
	// Coord is the request form of the coordinate ("12,-3.25,801.5").
	Coord string
	// Type is "episodic" or "semantic".
	Type    string
	Payload Payload
}

// Payload is the stored payload. Text is what the server embeds.
type Payload struct {
	Text       string   `json:"text"`
	Importance float64  `json:"importance"`
	Tags       []string `json:"tags"`
	// Seq is the workload index, so a read can tell its record from any
	// other.
	Seq int `json:"bench_seq"`
}

// Workload generates memories and queries from a seed. It holds no state:
// Memory(i) and Query(i) depend only on the seed and i, so any number of
// goroutines may call them in any order and get the same workload.
type Workload struct {
	seed uint64
}

// NewWorkload returns the workload of seed.
func NewWorkload(seed int64) Workload { return Workload{seed: uint64(seed)} } // #nosec G115 -- the seed's bits, reinterpreted

// Memory returns memory i (i ≥ 0).
func (w Workload) Memory(i int) Memory {
	r := rand.New(rand.NewPCG(w.seed, uint64(i)<<1|streamMemory)) // #nosec G404 G115 -- a reproducible workload needs a seeded PRNG; i ≥ 0
	coord := make([]string, Dims)
	coord[0] = strconv.Itoa(i)
	for d := 1; d < Dims; d++ {
		// Millesimal values print exactly and parse back to the same key.
		v := math.Round((r.Float64()*2-1)*coordSpan*1000) / 1000
		coord[d] = strconv.FormatFloat(v, 'f', -1, 64)
	}
	typ := "episodic"
	if r.IntN(SemanticEvery) == 0 {
		typ = "semantic"
	}
	tags := make([]string, 1+r.IntN(3))
	for k := range tags {
		tags[k] = word(r)
	}
	return Memory{
		Index: i,
		Coord: strings.Join(coord, ","),
		Type:  typ,
		Payload: Payload{
			Text:       sentence(r, MinWords, MaxWords),
			Importance: math.Floor(r.Float64()*MaxImportance*100) / 100, // [0, MaxImportance)
			Tags:       tags,
			Seq:        i,
		},
	}
}

// Query returns recall query text i (i ≥ 0), drawn from the same
// vocabulary as the memories.
func (w Workload) Query(i int) string {
	r := rand.New(rand.NewPCG(w.seed, uint64(i)<<1|streamQuery)) // #nosec G404 G115 -- a reproducible workload needs a seeded PRNG; i ≥ 0
	return sentence(r, MinQueryWords, MaxQueryWords)
}

func word(r *rand.Rand) string { return vocabulary[r.IntN(len(vocabulary))] }

func sentence(r *rand.Rand, lo, hi int) string {
	n := lo + r.IntN(hi-lo+1)
	var b strings.Builder
	for k := range n {
		if k > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(word(r))
	}
	return b.String()
}
