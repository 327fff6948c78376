package qdrant

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	qc "github.com/qdrant/go-client/qdrant"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/qdrantfake"
	projqdrant "github.com/somafractalmemory/soma/projections/qdrant"
	"github.com/somafractalmemory/soma/queries"
)

// ranked is one point of an exhaustive ranking.
type ranked struct {
	key       string
	cos, norm float64
	score     float64
	typ       string
	kind      string
	n         float64
	hasN      bool
}

// exhaustive reads every point of ns with its cosine in one request (no
// paging, no filter but the namespace) and ranks them by final score:
// the reference Search must agree with.
func exhaustive(t *testing.T, f *fixture, ns string, vec []float32) []ranked {
	t.Helper()
	pts, err := f.client.Query(context.Background(), &qc.QueryPoints{
		CollectionName: f.proj.Alias(),
		Query:          qc.NewQueryDense(vec),
		Filter:         &qc.Filter{Must: []*qc.Condition{qc.NewMatchKeyword(projqdrant.KeyNamespace, ns)}},
		Limit:          qc.PtrOf(uint64(100000)),
		WithPayload:    qc.NewWithPayload(true),
		WithVectors:    qc.NewWithVectors(false),
	})
	if err != nil {
		t.Fatal(err)
	}
	out := make([]ranked, len(pts))
	for i, p := range pts {
		pl := p.GetPayload()
		rec := pl[projqdrant.KeyPayload].GetStructValue().GetFields()
		r := ranked{
			key:  pl[projqdrant.KeyCoordKey].GetStringValue(),
			cos:  float64(p.GetScore()),
			norm: pl[projqdrant.KeyImportanceNorm].GetDoubleValue(),
			typ:  pl[projqdrant.KeyMemoryType].GetStringValue(),
			kind: rec["kind"].GetStringValue(),
		}
		r.n, r.hasN = number(rec["n"])
		r.score = max(0, r.cos) * r.norm
		out[i] = r
	}
	return out
}

// reference is the top k of the exhaustive ranking after filtering.
func reference(all []ranked, k int, typ domain.MemoryType, kind string, n *float64) []ranked {
	var out []ranked
	for _, r := range all {
		if typ != "" && r.typ != string(typ) || kind != "" && r.kind != kind || n != nil && (!r.hasN || r.n != *n) {
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b ranked) int { return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.key, b.key)) })
	return out[:min(k, len(out))]
}

// norms are distributions of importance_norm.
var norms = map[string]func(r *rand.Rand) float64{
	"neutral": func(*rand.Rand) float64 { return domain.NeutralImportance },
	"uniform": func(r *rand.Rand) float64 { return r.Float64() },
	"skewed": func(r *rand.Rand) float64 { // most memories unimportant, a few very important
		if r.IntN(20) == 0 {
			return 0.9 + 0.1*r.Float64()
		}
		return 0.1 * r.Float64()
	},
	"mixed": func(r *rand.Rand) float64 { // zeros, neutral and the rest
		switch r.IntN(4) {
		case 0:
			return 0
		case 1:
			return domain.NeutralImportance
		}
		return r.Float64()
	},
}

// fill stores count random memories in ns with vectors of dimension dim.
func fill(f *fixture, r *rand.Rand, ns string, count, dim int, norm func(*rand.Rand) float64) {
	f.t.Helper()
	var batch []mem
	for i := range count {
		vec := make([]float32, dim)
		for j := range vec {
			vec[j] = float32(r.NormFloat64())
		}
		n := ""
		switch r.IntN(3) {
		case 0:
			n = `,"n":1`
		case 1:
			n = `,"n":1.0`
		}
		m := mem{
			ns:      ns,
			coord:   coord(float64(i), float64(r.IntN(3))),
			payload: fmt.Sprintf(`{"kind":%q%s}`, string(rune('a'+r.IntN(3))), n),
			norm:    math.Round(norm(r)*1e6) / 1e6,
			vec:     vec,
		}
		if r.IntN(2) == 0 {
			m.typ = domain.Semantic
		}
		batch = append(batch, m)
		if len(batch) == 200 {
			f.store(batch...)
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		f.store(batch...)
	}
}

func randomVector(r *rand.Rand, dim int) []float32 {
	vec := make([]float32, dim)
	for j := range vec {
		vec[j] = float32(r.NormFloat64())
	}
	return vec
}

func TestSearchMatchesExhaustiveRanking(t *testing.T) {
	eachBackend(t, func(t *testing.T, f *fixture) {
		r := rand.New(rand.NewPCG(1, 2))
		for name, norm := range norms {
			fill(f, r, "ex-"+name, 250, dim, norm)
		}
		for name := range norms {
			ns := "ex-" + name
			for i := range 8 {
				vec := randomVector(r, dim)
				all := exhaustive(t, f, ns, vec)
				k := []int{1, 3, 5, 20, 50, 400, 2, 10}[i]
				q := queries.VectorQuery{Namespace: ns, Vector: vec, EmbeddingModel: model, TopK: k}
				var kind string
				var n *float64
				switch i % 4 {
				case 1:
					q.Type = domain.Semantic
				case 2:
					kind = "b"
					q.Filters = map[string]any{"kind": kind}
				case 3:
					one := 1.0
					n = &one
					q.Type = domain.Episodic
					q.Filters = map[string]any{"n": 1}
				}
				want := reference(all, k, q.Type, kind, n)
				for _, first := range []int{0, 3} {
					t.Run(fmt.Sprintf("%s/q%d/first_page_%d", name, i, first), func(t *testing.T) {
						f.ix.firstPage = first
						defer func() { f.ix.firstPage = 0 }()
						got := f.search(q)
						if len(got) != len(want) {
							t.Fatalf("%d hits, want %d", len(got), len(want))
						}
						for j := range want {
							g, w := got[j], want[j]
							if g.Coordinate.Key() != w.key || g.Score != w.score || g.Cosine != w.cos || g.ImportanceNorm != w.norm {
								t.Fatalf("hit %d = %s %v (cos %v norm %v), want %s %v (cos %v norm %v)",
									j, g.Coordinate.Key(), g.Score, g.Cosine, g.ImportanceNorm, w.key, w.score, w.cos, w.norm)
							}
						}
					})
				}
			}
		}
	})
}

// TestPagingCost measures, on the double, how many points Search reads
// to be exact, against plain cosine paging (same pages, no importance
// floor) and against a fixed oversample of max(4k, 64), which is not
// exact. It runs only with SOMA_MEASURE=1 (it takes minutes under the race
// detector); the numbers are logged:
//
//	SOMA_MEASURE=1 go test -v -run PagingCost ./queries/qdrant/
func TestPagingCost(t *testing.T) {
	if os.Getenv("SOMA_MEASURE") != "1" {
		t.Skip("measurement: set SOMA_MEASURE=1 to run it")
	}
	const (
		count    = 3000
		vecDim   = 32
		nQueries = 20
		k        = 5
	)
	addr := qdrantfake.Start(t)
	client := qdrantfake.Connect(t, addr)
	cfg := projqdrant.Config{Collection: "cost", Dim: vecDim}
	proj, err := projqdrant.New(context.Background(), client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, client: client, cfg: cfg, proj: proj, ix: New(client, proj.Alias(), model)}
	r := rand.New(rand.NewPCG(3, 4))
	names := []string{"neutral", "uniform", "skewed", "mixed"}
	for _, name := range names {
		fill(f, r, "cost-"+name, count, vecDim, norms[name])
	}
	for _, k := range []int{5, 50} {
		for _, name := range names {
			ns := "cost-" + name
			var reqs, points, plainPoints, oversampleMisses int
			for range nQueries {
				vec := randomVector(r, vecDim)
				all := exhaustive(t, f, ns, vec)
				want := reference(all, k, "", "", nil)

				f.ix.trace = func(e traceEvent) { reqs++; points += e.got }
				got := f.search(queries.VectorQuery{Namespace: ns, Vector: vec, EmbeddingModel: model, TopK: k})
				f.ix.trace = nil
				for j := range want {
					if got[j].Coordinate.Key() != want[j].key {
						t.Fatalf("%s: hit %d = %s, want %s", ns, j, got[j].Coordinate.Key(), want[j].key)
					}
				}
				plainPoints += plainPagingCost(all, k)
				// Fixed oversample: the best k by score among the first
				// max(4k, 64) by cosine.
				first := slices.Clone(all[:min(len(all), max(oversample*k, minPage))])
				slices.SortFunc(first, func(a, b ranked) int { return cmp.Or(cmp.Compare(b.score, a.score), cmp.Compare(a.key, b.key)) })
				for j := range want {
					if first[j].key != want[j].key {
						oversampleMisses++
						break
					}
				}
			}
			t.Logf("%-8s n=%d k=%d: exact search %.1f requests, %.0f points read per query; plain cosine paging %.0f points; fixed oversample %d wrong of %d",
				name, count, k, float64(reqs)/nQueries, float64(points)/nQueries, float64(plainPoints)/nQueries, oversampleMisses, nQueries)
		}
	}
}

// plainPagingCost is the number of points plain cosine paging (pages of
// max(4k, 64), then doubling) reads before no unseen point can enter the
// top k.
func plainPagingCost(all []ranked, k int) int {
	read, limit := 0, max(oversample*k, minPage)
	for {
		read = min(read+limit, len(all))
		if read == len(all) {
			return read
		}
		seen := slices.Clone(all[:read])
		slices.SortFunc(seen, func(a, b ranked) int { return cmp.Compare(b.score, a.score) })
		if len(seen) >= k && seen[k-1].score > max(0, all[read-1].cos) {
			return read
		}
		limit = min(read, maxPage)
	}
}
