package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/somafractalmemory/soma"
	"github.com/somafractalmemory/soma/internal/consistency"
)

// print writes v as one line of JSON, or with --output table the table that
// table renders (nil: the top-level fields of v's JSON object as rows).
func (e *clientEnv) print(v any, table func(io.Writer) error) error {
	w := e.stdout()
	if e.flags.output != outputTable {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	if table == nil {
		table = func(w io.Writer) error { return fieldsTable(w, v) }
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if err := table(tw); err != nil {
		return err
	}
	return tw.Flush()
}

// Outputs of the write subcommands: the API's answer.
type storeOut struct {
	OK               bool            `json:"ok"`
	Coord            soma.Coordinate `json:"coord"`
	EventIDs         []string        `json:"event_ids"`
	ConsistencyToken string          `json:"consistency_token"`
}

func storeOutput(r soma.StoreResult) storeOut {
	return storeOut{OK: true, Coord: r.Coordinate, EventIDs: r.EventIDs, ConsistencyToken: r.ConsistencyToken}
}

type okOut struct {
	OK               bool     `json:"ok"`
	EventIDs         []string `json:"event_ids"`
	ConsistencyToken string   `json:"consistency_token"`
}

func okOutput(a soma.Accepted) okOut {
	return okOut{OK: true, EventIDs: a.EventIDs, ConsistencyToken: a.ConsistencyToken}
}

type edgeOut struct {
	To        soma.Coordinate `json:"to"`
	Type      string          `json:"type"`
	Weight    float64         `json:"weight"`
	Timestamp *float64        `json:"timestamp"`
}

// neighborsOutput is the query API's shape: [[to, {"to", "type",
// "weight", "timestamp"}]...].
func neighborsOutput(edges []soma.Edge) map[string]any {
	out := make([][2]any, len(edges))
	for i, e := range edges {
		edge := edgeOut{To: e.To, Type: e.Type, Weight: e.Weight}
		if !e.Timestamp.IsZero() {
			s := float64(e.Timestamp.UnixMicro()) / 1e6
			edge.Timestamp = &s
		}
		out[i] = [2]any{e.To, edge}
	}
	return map[string]any{"neighbors": out}
}

type scoredOut struct {
	Record         soma.Record `json:"payload"` // the query API's name
	Score          float64     `json:"score"`
	Cosine         float64     `json:"cosine"`
	ImportanceNorm float64     `json:"importance_norm"`
}

func scoredOutput(rs []soma.ScoredRecord) map[string]any {
	out := make([]scoredOut, len(rs))
	for i, r := range rs {
		out[i] = scoredOut{Record: r.Record, Score: r.Score, Cosine: r.Cosine, ImportanceNorm: r.ImportanceNorm}
	}
	return map[string]any{"results": out}
}

// Tables.

func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', 6, 64) }

func recordTime(r soma.Record) string {
	if r.Timestamp == nil {
		return "-"
	}
	return r.Time().Format(time.RFC3339)
}

func recordsTable(w io.Writer, rs []soma.Record) error {
	fmt.Fprintln(w, "COORDINATE\tTYPE\tIMPORTANCE\tTIMESTAMP\tPAYLOAD")
	for _, r := range rs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", r.Coordinate, r.Type, num(r.ImportanceNorm), recordTime(r), compactJSON(r.Payload))
	}
	return nil
}

func scoredTable(w io.Writer, rs []soma.ScoredRecord) error {
	fmt.Fprintln(w, "SCORE\tCOSINE\tIMPORTANCE\tCOORDINATE\tTYPE\tPAYLOAD")
	for _, r := range rs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", num(r.Score), num(r.Cosine), num(r.ImportanceNorm), r.Record.Coordinate, r.Record.Type, compactJSON(r.Record.Payload))
	}
	return nil
}

func coordsTable(w io.Writer, cs []soma.Coordinate) error {
	fmt.Fprintln(w, "COORDINATE")
	for _, c := range cs {
		fmt.Fprintln(w, c.String())
	}
	return nil
}

func edgesTable(w io.Writer, es []soma.Edge) error {
	fmt.Fprintln(w, "TO\tTYPE\tWEIGHT\tLINKED")
	for _, e := range es {
		ts := "-"
		if !e.Timestamp.IsZero() {
			ts = e.Timestamp.Format(time.RFC3339)
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", e.To, e.Type, num(e.Weight), ts)
	}
	return nil
}

func statsTable(w io.Writer, s soma.Stats) error {
	fmt.Fprintln(w, "TOTAL\tEPISODIC\tSEMANTIC")
	fmt.Fprintf(w, "%d\t%d\t%d\n", s.TotalMemories, s.Episodic, s.Semantic)
	return nil
}

// fieldsTable renders a JSON object's top-level fields as FIELD VALUE
// rows, in name order.
func fieldsTable(w io.Writer, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	fmt.Fprintln(w, "FIELD\tVALUE")
	for _, k := range keys {
		val := string(m[k])
		var s string
		if json.Unmarshal(m[k], &s) == nil {
			val = s
		}
		fmt.Fprintf(w, "%s\t%s\n", k, val)
	}
	return nil
}

// Session: the consistency token kept between invocations, so a script's
// `soma store` then `soma recall` sees the write even when the read
// models apply it asynchronously.

// sessionTTL bounds how long a saved token is used: read models apply a
// write within seconds, so an older token has nothing left to wait for
// (and may name positions of a server since reset).
const sessionTTL = 10 * time.Minute

type session struct {
	path string
	// loaded is the file's token as the client holds it after loading
	// it, "" if none.
	loaded string
}

type sessionFile struct {
	Token   string    `json:"consistency_token"`
	SavedAt time.Time `json:"saved_at"`
}

// newSession returns the session at path, or by default one file per
// (URL, query URL, namespace) in the user cache directory. Without a
// cache directory the session keeps nothing.
func newSession(path string, cfg soma.ClientConfig) *session {
	if path == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return &session{}
		}
		sum := sha256.Sum256([]byte(cfg.URL + "\x00" + cfg.QueryURL + "\x00" + cfg.Namespace))
		path = filepath.Join(dir, "soma", "sessions", hex.EncodeToString(sum[:8])+".json")
	}
	return &session{path: path}
}

// load returns the file's token, "" when there is none or it is older
// than sessionTTL.
func (s *session) load() string {
	if s.path == "" {
		return ""
	}
	raw, err := os.ReadFile(s.path)
	if err != nil {
		return ""
	}
	var f sessionFile
	if json.Unmarshal(raw, &f) != nil || time.Since(f.SavedAt) > sessionTTL {
		return ""
	}
	return f.Token
}

// save merges tok into the file's current token and writes the result
// to a temporary file renamed over the session, so a concurrent reader
// never sees half a file and a token saved by another invocation since
// this one started is kept. Best effort: no lock is taken, so two
// invocations saving at the same instant can still lose one token (only
// read-your-writes across invocations suffers), and a session that
// cannot be written is silently not kept.
func (s *session) save(tok string) {
	if s.path == "" || tok == "" {
		return
	}
	t, err := consistency.Parse(tok)
	if err != nil {
		return
	}
	if prev, err := consistency.Parse(s.load()); err == nil && !prev.IsZero() {
		// A token of another log (the server was reset or reconfigured)
		// cannot be merged: the newest wins.
		if merged, err := t.Merge(prev); err == nil {
			t = merged
		}
	}
	raw, _ := json.Marshal(sessionFile{Token: t.Encode(), SavedAt: time.Now().UTC()})
	if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
		return
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".session-*")
	if err != nil {
		return
	}
	_, werr := tmp.Write(raw)
	cerr := tmp.Close()
	if werr != nil || cerr != nil || os.Rename(tmp.Name(), s.path) != nil {
		_ = os.Remove(tmp.Name())
	}
}

func (s *session) clear() {
	if s.path != "" {
		_ = os.Remove(s.path)
	}
	s.loaded = ""
}

// Progress bars: shown only when standard error is a terminal, never in
// the library's indeterminate (spinner) mode.

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func newBar(w io.Writer, total int64, desc string, bytes bool) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	} else {
		opts = append(opts, progressbar.OptionShowIts(), progressbar.OptionSetItsString("records"))
	}
	return progressbar.NewOptions64(total, opts...)
}

func runExport(ctx context.Context, e *clientEnv, path string) error {
	var progress func(int)
	if isTerminal(e.stderr()) {
		// The count makes the bar determinate; it may be off by the
		// writes that happen during the export.
		if st, err := read(ctx, e, e.client.Stats); err == nil && st.TotalMemories > 0 {
			bar := newBar(e.stderr(), st.TotalMemories, "export", false)
			defer func() { _ = bar.Finish() }()
			progress = func(n int) { _ = bar.Set64(min(int64(n), st.TotalMemories)) }
		}
	}
	if path == "-" {
		_, err := read(ctx, e, func(ctx context.Context) (int, error) {
			return e.client.ExportWithProgress(ctx, e.stdout(), progress)
		})
		return err
	}
	// Written beside the target and renamed at the end, so a failed
	// export never leaves a file that looks complete.
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--path: %w", err)
	}
	defer func() { _ = os.Remove(f.Name()) }()
	n, err := read(ctx, e, func(ctx context.Context) (int, error) {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		if err := f.Truncate(0); err != nil {
			return 0, err
		}
		return e.client.ExportWithProgress(ctx, f, progress)
	})
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("--path: %w", err)
	}
	return e.print(map[string]any{"exported": n, "path": path}, nil)
}

// importOut names its fields as the API's answer does.
type importOut struct {
	Imported         int    `json:"imported"`
	Skipped          int    `json:"skipped"`
	Linked           int    `json:"linked"`
	ConsistencyToken string `json:"consistency_token"`
}

func runImport(ctx context.Context, e *clientEnv, path string, replace bool) error {
	var (
		r    io.Reader
		size int64 = -1
	)
	if path == "-" {
		r = e.cmd.InOrStdin()
	} else {
		f, err := os.Open(path) // #nosec G304 -- the user names the file to import on the command line
		if err != nil {
			return fmt.Errorf("--path: %w", err)
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
			size = st.Size()
		}
		r = f
	}
	opts := soma.ImportOptions{Replace: replace}
	if size > 0 && isTerminal(e.stderr()) {
		bar := newBar(e.stderr(), size, "import", true)
		defer func() { _ = bar.Finish() }()
		opts.Progress = func(p soma.ImportProgress) {
			bar.Describe(fmt.Sprintf("import: %d imported, %d skipped, %d links", p.Imported, p.Skipped, p.Links))
			_ = bar.Set64(p.Bytes)
		}
	}
	res, err := e.client.ImportWithOptions(ctx, r, opts)
	if res.ConsistencyToken != "" {
		// Also after a failure: what earlier chunks wrote (records or
		// links only) stays imported.
		e.wrote()
	}
	if err != nil {
		return err
	}
	return e.print(importOut{Imported: res.Imported, Skipped: res.Skipped, Linked: res.Links, ConsistencyToken: res.ConsistencyToken}, nil)
}
