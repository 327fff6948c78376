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
// importance_norm; blank lines skipped) and re-creates its edges (lines
// {"link": {"from", "to", "type", "weight"}}, see domain.ExportLinkKey).
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
	// Linked counts the edges re-created.
	Linked int
}

// Handle reads and validates every line, and every record's payload and
// vector, before publishing anything; a bad line is reported by its
// number ("line 7", "line[7].payload.importance") and nothing is
// published. Records, then links, are published in chunks of 1000 events;
// if the log fails mid-way, the error says how many were imported and the
// result carries their token.
func (h *ImportMemoriesHandler) Handle(ctx context.Context, cmd ImportMemories) (Imported, error) {
	records, links, errs := parseImport(cmd.Body)
	if len(errs) > 0 {
		return Imported{}, errs
	}
	var res Imported
	items := make([]StoreItem, len(records))
	for i, r := range records {
		items[i] = r.item
	}
	linkEvents, err := h.decideLinks(ctx, cmd.Caller, items, links)
	if err != nil {
		return Imported{}, err
	}
	if !cmd.Replace && len(records) > 0 {
		keys := make([]string, len(records))
		for i, r := range records {
			keys[i] = r.item.Coordinate.Key()
		}
		found, err := h.c.existing(ctx, cmd.Namespace, keys)
		if err != nil {
			return Imported{}, err
		}
		kept := records[:0]
		for _, r := range records {
			if found[r.item.Coordinate.Key()] {
				res.Skipped++
				continue
			}
			kept = append(kept, r)
		}
		records = kept
	}
	// Every record is validated and embedded before the first append, so a
	// bad payload anywhere (importance, NUL, vector) rejects the import
	// with its line number and nothing is published.
	var batches [][]domain.Event
	for start := 0; start < len(records); start += importChunk {
		chunk := records[start:min(start+importChunk, len(records))]
		its := make([]StoreItem, len(chunk))
		for i, r := range chunk {
			its[i] = r.item
		}
		events, err := h.c.prepareStores(ctx, cmd.Caller, its, func(i int) string { return fmt.Sprintf("line[%d].", chunk[i].line) })
		if err != nil {
			return Imported{}, err
		}
		batches = append(batches, events)
	}
	tok := consistency.Token{}
	for _, events := range batches {
		acc, err := h.c.append(ctx, events)
		if err != nil {
			res.Token = tok
			return res, fmt.Errorf("after %d records imported: %w", res.Imported, err)
		}
		res.EventIDs = append(res.EventIDs, acc.EventIDs...)
		tok = merge(tok, acc.Token)
		res.Imported += len(events)
	}
	for start := 0; start < len(linkEvents); start += importChunk {
		chunk := linkEvents[start:min(start+importChunk, len(linkEvents))]
		acc, err := h.c.append(ctx, chunk)
		if err != nil {
			res.Token = tok
			return res, fmt.Errorf("after %d records and %d links imported: %w", res.Imported, res.Linked, err)
		}
		res.EventIDs = append(res.EventIDs, acc.EventIDs...)
		tok = merge(tok, acc.Token)
		res.Linked += len(chunk)
	}
	res.Token = tok
	return res, nil
}

// importRecord is one record line of an import.
type importRecord struct {
	line int
	item StoreItem
}

// importLink is one edge line of an import.
type importLink struct {
	line int
	link domain.LinkMemories
}

// decideLinks validates the edge lines before anything is published: each
// source must be one of the imported records or an existing memory (as
// for POST /link); a bad line is reported by its number.
func (h *ImportMemoriesHandler) decideLinks(ctx context.Context, caller Caller, items []StoreItem, links []importLink) ([]domain.Event, error) {
	if len(links) == 0 {
		return nil, nil
	}
	imported := make(map[string]bool, len(items))
	for _, it := range items {
		imported[it.Coordinate.Key()] = true
	}
	var ask []string
	for _, l := range links {
		if k := l.link.From.Key(); !imported[k] {
			ask = append(ask, k)
		}
	}
	found := map[string]bool{}
	if len(ask) > 0 {
		var err error
		if found, err = h.c.existing(ctx, caller.Namespace, ask); err != nil {
			return nil, err
		}
	}
	var errs domain.ValidationErrors
	events := make([]domain.Event, 0, len(links))
	for _, l := range links {
		field := fmt.Sprintf("line %d", l.line)
		if k := l.link.From.Key(); !imported[k] && !found[k] {
			if len(errs) < maxLineErrors {
				errs = append(errs, domain.ValidationError{Field: field, Message: "link source " + l.link.From.String() + " is neither imported nor stored", Err: domain.ErrMemoryNotFound})
			}
			continue
		}
		e, err := domain.DecideLink(h.c.meta(caller), l.link)
		if err != nil {
			if len(errs) < maxLineErrors {
				errs = append(errs, domain.ValidationError{Field: field, Message: err.Error(), Err: err})
			}
			continue
		}
		events = append(events, e)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return events, nil
}

// parseImport turns NDJSON lines into store items and edges.
func parseImport(r io.Reader) ([]importRecord, []importLink, domain.ValidationErrors) {
	var (
		items []importRecord
		links []importLink
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
		if l, ok, err := parseLink(b); ok || err != nil {
			if err != nil {
				if len(errs) < maxLineErrors {
					errs = append(errs, domain.ValidationError{Field: fmt.Sprintf("line %d", line), Message: err.Error(), Err: err})
				}
				continue
			}
			links = append(links, importLink{line: line, link: l})
			continue
		}
		it, err := parseRecord(b)
		if err != nil {
			if len(errs) < maxLineErrors {
				errs = append(errs, domain.ValidationError{Field: fmt.Sprintf("line %d", line), Message: err.Error(), Err: err})
			}
			continue
		}
		items = append(items, importRecord{line: line, item: it})
	}
	if err := sc.Err(); err != nil {
		msg := err.Error()
		if errors.Is(err, bufio.ErrTooLong) {
			msg = fmt.Sprintf("line longer than %d bytes", MaxImportLineBytes)
		}
		errs = append(errs, domain.ValidationError{Field: fmt.Sprintf("line %d", line+1), Message: msg, Err: err})
	}
	return items, links, errs
}

// parseLink reads an edge line ({"link": {...}} and nothing else); ok is
// false for any other line (a record).
func parseLink(b []byte) (domain.LinkMemories, bool, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(b, &probe); err != nil || len(probe) != 1 {
		return domain.LinkMemories{}, false, nil
	}
	raw, ok := probe[domain.ExportLinkKey]
	if !ok {
		return domain.LinkMemories{}, false, nil
	}
	var edge struct {
		From   *domain.Coordinate `json:"from"`
		To     *domain.Coordinate `json:"to"`
		Type   string             `json:"type"`
		Weight *float64           `json:"weight"`
	}
	if err := json.Unmarshal(raw, &edge); err != nil {
		return domain.LinkMemories{}, true, fmt.Errorf("link: %v", err)
	}
	if edge.From == nil || edge.To == nil {
		return domain.LinkMemories{}, true, errors.New("link: from and to are required")
	}
	w := domain.DefaultLinkWeight
	if edge.Weight != nil {
		w = *edge.Weight
	}
	return domain.LinkMemories{From: *edge.From, To: *edge.To, Type: edge.Type, Weight: w}, true, nil
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
