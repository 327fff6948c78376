package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/domain"
	"github.com/somafractalmemory/soma/queries"
)

func (h *handlers) rangeCoords(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	lo, ok := coordQuery(c, "min", false)
	if !ok {
		return
	}
	hi, ok := coordQuery(c, "max", false)
	if !ok {
		return
	}
	res, err := h.app.Range.Handle(c.Request.Context(), queries.Range{Caller: caller, Min: lo, Max: hi, Type: c.Query("type")})
	if err != nil {
		h.fail(c, err, inQuery)
		return
	}
	c.JSON(http.StatusOK, gin.H{"coords": coordsJSON(res)})
}

// edgeData is the edge half of a neighbour entry, as the original wrote
// it: {"to": [..], "type": .., "weight": .., "timestamp": epoch seconds}.
type edgeData struct {
	To        []float64 `json:"to"`
	Type      string    `json:"type"`
	Weight    float64   `json:"weight"`
	Timestamp *float64  `json:"timestamp"`
}

func (h *handlers) neighbors(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	co, ok := coordQuery(c, "coord", true)
	if !ok {
		return
	}
	limit, ok := intQuery(c, "limit", queries.DefaultNeighborLimit)
	if !ok {
		return
	}
	links, err := h.app.Neighbors.Handle(c.Request.Context(), queries.Neighbors{Caller: caller, Coordinate: co, LinkType: c.Query("link_type"), Limit: limit})
	if err != nil {
		h.fail(c, err, inQuery)
		return
	}
	out := make([][2]any, len(links))
	for i, l := range links {
		var ts *float64
		if !l.CreatedAt.IsZero() {
			s := float64(l.CreatedAt.Unix()) + float64(l.CreatedAt.Nanosecond())/1e9
			ts = &s
		}
		to := l.To.Values()
		out[i] = [2]any{to, edgeData{To: to, Type: l.Type, Weight: l.Weight, Timestamp: ts}}
	}
	c.JSON(http.StatusOK, gin.H{"neighbors": out})
}

func (h *handlers) shortestPath(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	from, ok := coordQuery(c, "frm", true)
	if !ok {
		return
	}
	to, ok := coordQuery(c, "to", true)
	if !ok {
		return
	}
	path, err := h.app.ShortestPath.Handle(c.Request.Context(), queries.ShortestPath{Caller: caller, From: from, To: to, LinkType: c.Query("link_type")})
	if err != nil {
		h.fail(c, err, inQuery)
		return
	}
	c.JSON(http.StatusOK, gin.H{"path": coordsJSON(path)})
}

func (h *handlers) stats(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	s, err := h.app.Stats.Handle(c.Request.Context(), queries.GetStats{Caller: caller})
	if err != nil {
		h.fail(c, err, inQuery)
		return
	}
	c.JSON(http.StatusOK, gin.H{"total_memories": s.Total, "episodic": s.Episodic, "semantic": s.Semantic})
}

func (h *handlers) memory(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	co, ok := coordQuery(c, "coord", true)
	if !ok {
		return
	}
	m, err := h.app.GetMemory.Handle(c.Request.Context(), queries.GetMemory{Caller: caller, Coordinate: co})
	if err != nil {
		h.fail(c, err, inQuery)
		return
	}
	c.JSON(http.StatusOK, m.Record())
}

// historyEvent is one entry of GET /history.
type historyEvent struct {
	EventID    string         `json:"event_id"`
	EventType  string         `json:"event_type"`
	OccurredAt string         `json:"occurred_at"`
	Source     string         `json:"source"`
	Partition  int32          `json:"partition"`
	Offset     int64          `json:"offset"`
	Event      map[string]any `json:"event"`
}

func (h *handlers) history(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	co, ok := coordQuery(c, "coord", true)
	if !ok {
		return
	}
	limit, ok := intQuery(c, "limit", queries.DefaultHistoryLimit)
	if !ok {
		return
	}
	entries, err := h.app.History.Handle(c.Request.Context(), queries.History{Caller: caller, Coordinate: co, Limit: limit})
	if err != nil {
		h.fail(c, err, inQuery)
		return
	}
	out := make([]historyEvent, len(entries))
	for i, e := range entries {
		ev := e.Event
		if ev == nil {
			ev = map[string]any{}
		}
		out[i] = historyEvent{EventID: e.EventID, EventType: e.EventType, OccurredAt: e.OccurredAt, Source: e.Source, Partition: e.Partition, Offset: e.Offset, Event: ev}
	}
	c.JSON(http.StatusOK, gin.H{"coord": co.Values(), "events": out})
}

// export streams every record of the namespace as NDJSON, one client
// record per line (the format POST /import of the write API reads) and,
// with links=true, every edge as a {"link": {...}} line after the records,
// flushing every ExportFlushEvery records. Memory use does not grow with
// the namespace. Headers are sent with the first record, so errors before
// it get a normal status; an error after it aborts the connection, so a
// client never mistakes a cut stream for a complete export.
func (h *handlers) export(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	started := false
	start := func() {
		if !started {
			started = true
			c.Header("Content-Type", ContentTypeNDJSON)
			c.Header("Cache-Control", "no-store")
			c.Status(http.StatusOK)
			c.Writer.Flush()
		}
	}
	enc := json.NewEncoder(c.Writer)
	enc.SetEscapeHTML(false)
	n := 0
	q := queries.Export{Caller: caller}
	switch c.Query("links") {
	case "", "false", "0":
	case "true", "1":
		q.Links = func(l domain.Link) error {
			start()
			if err := enc.Encode(l.ExportLine()); err != nil {
				return err
			}
			n++
			if n%h.opts.ExportFlushEvery == 0 {
				c.Writer.Flush()
			}
			return nil
		}
	default:
		h.fail(c, domain.ValidationErrors{{Field: "links", Message: "must be true or false"}}, inQuery)
		return
	}
	err := h.app.Export.Handle(c.Request.Context(), q, func(m domain.Memory) error {
		start()
		if err := enc.Encode(m.Record()); err != nil {
			return err
		}
		n++
		if n%h.opts.ExportFlushEvery == 0 {
			c.Writer.Flush()
		}
		return nil
	})
	if err != nil {
		if !started {
			h.fail(c, err, inQuery)
			return
		}
		_ = c.Error(err)
		panic(http.ErrAbortHandler)
	}
	start()
	c.Writer.Flush()
}
