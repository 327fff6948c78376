package commands

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
)

// Import limits.
const (
	// MaxImportLineBytes bounds one NDJSON record.
	MaxImportLineBytes = 4 << 20
	// importChunk is how many events one append carries.
	importChunk = 1000
	// maxLineErrors bounds the line errors reported at once.
	maxLineErrors = 100
)

// ImportMemories stores the records of an export (NDJSON: one client
// record per line — payload keys plus memory_type, coordinate and
// importance_norm; blank lines skipped).
type ImportMemories struct {
	Caller
	Body io.Reader
	// Replace re-stores records whose coordinate already holds a memory;
	// otherwise those records are skipped.
	Replace bool
}

// ImportMemoriesHandler handles ImportMemories.
type ImportMemoriesHandler struct{ c *core }

// Imported is the answer.
type Imported struct {
	Accepted
	Imported int
	Skipped  int
}

// Handle reads and validates every line before publishing anything; a
// malformed line is reported by its number ("line 7") and nothing is
// published. Records are then published in chunks of 1000 events; if the
// log fails mid-way, the error says how many were imported.
func (h *ImportMemoriesHandler) Handle(ctx context.Context, cmd ImportMemories) (Imported, error) {
	items, errs := parseImport(cmd.Body)
	if len(errs) > 0 {
		return Imported{}, errs
	}
	var res Imported
	if !cmd.Replace && len(items) > 0 {
		keys := make([]string, len(items))
		for i, it := range items {
			keys[i] = it.Coordinate.Key()
		}
		found, err := h.c.existing(ctx, cmd.Namespace, keys)
		if err != nil {
			return Imported{}, err
		}
		kept := items[:0]
		for _, it := range items {
			if found[it.Coordinate.Key()] {
				res.Skipped++
				continue
			}
			kept = append(kept, it)
		}
		items = kept
	}
	tok := consistency.Token{}
	for start := 0; start < len(items); start += importChunk {
		chunk := items[start:min(start+importChunk, len(items))]
		events, err := h.c.prepareStores(ctx, cmd.Caller, chunk, func(i int) string { return fmt.Sprintf("record[%d].", start+i) })
		if err != nil {
			return res, fmt.Errorf("after %d records imported: %w", res.Imported, err)
		}
		acc, err := h.c.append(ctx, events)
		if err != nil {
			return res, fmt.Errorf("after %d records imported: %w", res.Imported, err)
		}
		res.EventIDs = append(res.EventIDs, acc.EventIDs...)
		tok = merge(tok, acc.Token)
		res.Imported += len(chunk)
	}
	res.Token = tok
	return res, nil
}

// parseImport turns NDJSON lines into store items.
func parseImport(r io.Reader) ([]StoreItem, domain.ValidationErrors) {
	var (
		items []StoreItem
		errs  domain.ValidationErrors
	)
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), MaxImportLineBytes)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		it, err := parseRecord(b)
		if err != nil {
			if len(errs) < maxLineErrors {
				errs = append(errs, domain.ValidationError{Field: fmt.Sprintf("line %d", line), Message: err.Error(), Err: err})
			}
			continue
		}
		items = append(items, it)
	}
	if err := sc.Err(); err != nil {
		msg := err.Error()
		if errors.Is(err, bufio.ErrTooLong) {
			msg = fmt.Sprintf("line longer than %d bytes", MaxImportLineBytes)
		}
		errs = append(errs, domain.ValidationError{Field: fmt.Sprintf("line %d", line+1), Message: msg, Err: err})
	}
	return items, errs
}

// parseRecord reads one exported record: system fields are taken out of
// the payload (coordinate and memory_type give the item; importance_norm is
// recomputed from the raw importance on import); everything else,
// including timestamp and importance, stays in the payload.
func parseRecord(b []byte) (StoreItem, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var rec map[string]any
	if err := dec.Decode(&rec); err != nil {
		return StoreItem{}, fmt.Errorf("not a JSON object: %v", err)
	}
	if rec == nil {
		return StoreItem{}, errors.New("not a JSON object")
	}
	if dec.More() {
		return StoreItem{}, errors.New("more than one JSON value on the line")
	}
	rawCoord, ok := rec[domain.RecordKeyCoordinate]
	if !ok {
		return StoreItem{}, errors.New("missing coordinate")
	}
	cb, _ := json.Marshal(rawCoord)
	var coord domain.Coordinate
	if err := json.Unmarshal(cb, &coord); err != nil {
		return StoreItem{}, err
	}
	typ, _ := rec[domain.RecordKeyMemoryType].(string)
	delete(rec, domain.RecordKeyCoordinate)
	delete(rec, domain.RecordKeyMemoryType)
	delete(rec, domain.RecordKeyImportanceNorm)
	return StoreItem{Coordinate: coord, Payload: rec, Type: typ}, nil
}
