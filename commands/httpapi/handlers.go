package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/commands"
	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/httpx"
)

type handlers struct {
	app  *commands.Application
	opts Options
}

// coordField is a coordinate in a request: the comma string of the
// original API ("1,2,3") or an array of numbers.
type coordField = json.RawMessage

// parseCoord parses a present coordinate field; ok=false when absent/null.
func parseCoord(raw coordField) (c domain.Coordinate, ok bool, err error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return domain.Coordinate{}, false, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return domain.Coordinate{}, true, err
		}
		c, err := domain.ParseCoordinate(s)
		return c, true, err
	}
	err = json.Unmarshal(raw, &c)
	return c, true, err
}

func (h *handlers) caller(c *gin.Context) commands.Caller {
	return commands.Caller{
		Namespace:      httpx.Namespace(c),
		Actor:          httpx.Actor(c),
		IdempotencyKey: c.GetHeader(HeaderIdempotencyKey),
	}
}

// accepted writes a 200 answer with the consistency token in the body and
// the X-Soma-Consistency-Token header.
func accepted(c *gin.Context, tok consistency.Token, body gin.H) {
	enc := tok.Encode()
	if enc != "" {
		c.Header(consistency.Header, enc)
	}
	body["consistency_token"] = enc
	c.JSON(http.StatusOK, body)
}

func (h *handlers) count(c *gin.Context, n int) {
	if h.opts.Stored != nil && n > 0 {
		h.opts.Stored.Add(httpx.Namespace(c), n)
	}
}

type storeRequest struct {
	Coord     coordField     `json:"coord"`
	Payload   map[string]any `json:"payload"`
	Type      *string        `json:"type"`
	Embedding []float32      `json:"embedding"`
}

// item validates one store request; field is the coordinate's field path.
func (r storeRequest) item(c *gin.Context, field string, coordRequired bool) (commands.StoreItem, bool, bool) {
	coord, has, err := parseCoord(r.Coord)
	if err != nil {
		badCoordinate(c, field, err)
		return commands.StoreItem{}, false, false
	}
	if !has && coordRequired {
		missing(c, field)
		return commands.StoreItem{}, false, false
	}
	typ := ""
	if r.Type != nil {
		typ = *r.Type
	}
	return commands.StoreItem{Coordinate: coord, Payload: r.Payload, Type: typ, Embedding: r.Embedding}, has, true
}

func (h *handlers) store(c *gin.Context) {
	var req storeRequest
	if !httpx.BindJSON(c, &req, httpx.UseNumber()) {
		return
	}
	if req.Payload == nil {
		missing(c, "payload")
		return
	}
	it, _, ok := req.item(c, "coord", true)
	if !ok {
		return
	}
	acc, err := h.app.Store.Handle(c.Request.Context(), commands.StoreMemory{Caller: h.caller(c), StoreItem: it})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.count(c, 1)
	accepted(c, acc.Token, gin.H{"ok": true, "coord": it.Coordinate, "event_ids": acc.EventIDs})
}

func (h *handlers) remember(c *gin.Context) {
	var req storeRequest
	if !httpx.BindJSON(c, &req, httpx.UseNumber()) {
		return
	}
	if req.Payload == nil {
		missing(c, "payload")
		return
	}
	it, has, ok := req.item(c, "coord", false)
	if !ok {
		return
	}
	res, err := h.app.Remember.Handle(c.Request.Context(), commands.Remember{Caller: h.caller(c), StoreItem: it, HasCoordinate: has})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.count(c, 1)
	accepted(c, res.Token, gin.H{"ok": true, "coord": res.Coordinate, "event_ids": res.EventIDs})
}

func (h *handlers) storeBulk(c *gin.Context) {
	var req struct {
		Items []storeRequest `json:"items"`
	}
	if !httpx.BindJSON(c, &req, httpx.UseNumber()) {
		return
	}
	if req.Items == nil {
		missing(c, "items")
		return
	}
	// Every coordinate is validated before anything else.
	items := make([]commands.StoreItem, len(req.Items))
	for i, r := range req.Items {
		it, _, ok := r.item(c, fmt.Sprintf("items[%d].coord", i), true)
		if !ok {
			return
		}
		items[i] = it
	}
	acc, err := h.app.StoreBulk.Handle(c.Request.Context(), commands.StoreBulk{Caller: h.caller(c), Items: items})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.count(c, len(items))
	accepted(c, acc.Token, gin.H{"stored": len(items), "event_ids": acc.EventIDs})
}

type linkRequest struct {
	From   coordField `json:"from_coord"`
	To     coordField `json:"to_coord"`
	Type   string     `json:"type"`
	Weight *float64   `json:"weight"`
}

// coords parses from_coord and to_coord, both required.
func (r linkRequest) coords(c *gin.Context) (from, to domain.Coordinate, ok bool) {
	from, hasFrom, err := parseCoord(r.From)
	if err != nil {
		badCoordinate(c, "from_coord", err)
		return from, to, false
	}
	to, hasTo, err := parseCoord(r.To)
	if err != nil {
		badCoordinate(c, "to_coord", err)
		return from, to, false
	}
	var absent []string
	if !hasFrom {
		absent = append(absent, "from_coord")
	}
	if !hasTo {
		absent = append(absent, "to_coord")
	}
	if len(absent) > 0 {
		missing(c, absent...)
		return from, to, false
	}
	return from, to, true
}

func (h *handlers) link(c *gin.Context) {
	var req linkRequest
	if !httpx.BindJSON(c, &req) {
		return
	}
	from, to, ok := req.coords(c)
	if !ok {
		return
	}
	weight := domain.DefaultLinkWeight
	if req.Weight != nil {
		weight = *req.Weight
	}
	acc, err := h.app.Link.Handle(c.Request.Context(), commands.LinkMemories{Caller: h.caller(c), LinkMemories: domain.LinkMemories{From: from, To: to, Type: req.Type, Weight: weight}})
	if err != nil {
		h.fail(c, err)
		return
	}
	accepted(c, acc.Token, gin.H{"ok": true, "event_ids": acc.EventIDs})
}

func (h *handlers) unlink(c *gin.Context) {
	var req linkRequest
	if !httpx.BindJSON(c, &req) {
		return
	}
	from, to, ok := req.coords(c)
	if !ok {
		return
	}
	acc, err := h.app.Unlink.Handle(c.Request.Context(), commands.UnlinkMemories{Caller: h.caller(c), From: from, To: to})
	if err != nil {
		h.fail(c, err)
		return
	}
	accepted(c, acc.Token, gin.H{"ok": true, "event_ids": acc.EventIDs})
}

func (h *handlers) deleteOne(c *gin.Context) {
	var req struct {
		Coord coordField `json:"coord"`
	}
	if !httpx.BindJSON(c, &req) {
		return
	}
	coord, has, err := parseCoord(req.Coord)
	if err != nil {
		badCoordinate(c, "coord", err)
		return
	}
	if !has {
		missing(c, "coord")
		return
	}
	res, err := h.app.Delete.Handle(c.Request.Context(), commands.DeleteMemory{Caller: h.caller(c), Coordinate: coord})
	if err != nil {
		h.fail(c, err)
		return
	}
	accepted(c, res.Token, gin.H{"ok": true, "deleted": res.Existed > 0, "event_ids": res.EventIDs})
}

func (h *handlers) deleteMany(c *gin.Context) {
	var req struct {
		Coords []coordField `json:"coords"`
	}
	if !httpx.BindJSON(c, &req) {
		return
	}
	if req.Coords == nil {
		missing(c, "coords")
		return
	}
	coords := make([]domain.Coordinate, 0, len(req.Coords))
	for i, raw := range req.Coords {
		co, has, err := parseCoord(raw)
		if err == nil && !has {
			err = fmt.Errorf("must not be null")
		}
		if err != nil {
			badCoordinate(c, fmt.Sprintf("coords[%d]", i), err)
			return
		}
		coords = append(coords, co)
	}
	res, err := h.app.DeleteMany.Handle(c.Request.Context(), commands.DeleteMany{Caller: h.caller(c), Coordinates: coords})
	if err != nil {
		h.fail(c, err)
		return
	}
	accepted(c, res.Token, gin.H{"deleted": res.Existed, "event_ids": res.EventIDs})
}

func (h *handlers) setImportance(c *gin.Context) {
	var req struct {
		Coord      coordField `json:"coord"`
		Importance *float64   `json:"importance"`
	}
	if !httpx.BindJSON(c, &req) {
		return
	}
	coord, has, err := parseCoord(req.Coord)
	if err != nil {
		badCoordinate(c, "coord", err)
		return
	}
	var absent []string
	if !has {
		absent = append(absent, "coord")
	}
	if req.Importance == nil {
		absent = append(absent, "importance")
	}
	if len(absent) > 0 {
		missing(c, absent...)
		return
	}
	res, err := h.app.SetImportance.Handle(c.Request.Context(), commands.SetImportance{Caller: h.caller(c), Coordinate: coord, Importance: *req.Importance})
	if err != nil {
		h.fail(c, err)
		return
	}
	accepted(c, res.Token, gin.H{"ok": true, "importance_norm": res.ImportanceNorm, "event_ids": res.EventIDs})
}

func (h *handlers) importMemories(c *gin.Context) {
	replace := false
	if v := c.Query("replace"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			httpx.ValidationError(c, []httpx.FieldError{{Loc: []any{"query", "replace"}, Msg: "must be true or false", Type: "bool_parsing"}})
			return
		}
		replace = b
	}
	// The whole body is read first (bounded by the bulk body limit) so a
	// body over the limit is a 413 before anything is published.
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(c.Request.Body); err != nil {
		httpx.BodyError(c, err)
		return
	}
	res, err := h.app.Import.Handle(c.Request.Context(), commands.ImportMemories{Caller: h.caller(c), Body: &buf, Replace: replace})
	if err != nil {
		h.fail(c, err)
		return
	}
	h.count(c, res.Imported)
	accepted(c, res.Token, gin.H{"imported": res.Imported, "skipped": res.Skipped, "linked": res.Linked, "event_ids": res.EventIDs})
}
