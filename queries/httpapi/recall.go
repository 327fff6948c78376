package httpapi

import (
	"bytes"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/queries"
)

type recallRequest struct {
	Query   *string        `json:"query"`
	TopK    *int           `json:"top_k"`
	Type    *string        `json:"type"`
	Filters map[string]any `json:"filters"`
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func topK(n *int) int {
	if n == nil {
		return queries.DefaultTopK
	}
	return *n
}

func (h *handlers) recall(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	var req recallRequest
	if !httpx.BindJSON(c, &req, httpx.UseNumber()) {
		return
	}
	if req.Query == nil {
		missing(c, "body", "query")
		return
	}
	res, err := h.app.Recall.Handle(c.Request.Context(), queries.Recall{Caller: caller, Query: *req.Query, TopK: topK(req.TopK), Type: deref(req.Type), Filters: req.Filters})
	if err != nil {
		h.fail(c, err, inBody)
		return
	}
	c.JSON(http.StatusOK, gin.H{"matches": records(res)})
}

func (h *handlers) recallBatch(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	var req struct {
		Queries []string       `json:"queries"`
		TopK    *int           `json:"top_k"`
		Type    *string        `json:"type"`
		Filters map[string]any `json:"filters"`
	}
	if !httpx.BindJSON(c, &req, httpx.UseNumber()) {
		return
	}
	if req.Queries == nil {
		missing(c, "body", "queries")
		return
	}
	res, err := h.app.RecallBatch.Handle(c.Request.Context(), queries.RecallBatch{Caller: caller, Queries: req.Queries, TopK: topK(req.TopK), Type: deref(req.Type), Filters: req.Filters})
	if err != nil {
		h.fail(c, err, inBody)
		return
	}
	batches := make([][]map[string]any, len(res))
	for i, ms := range res {
		batches[i] = records(ms)
	}
	c.JSON(http.StatusOK, gin.H{"batches": batches})
}

// scoredRecord is one result of recall_with_scores.
type scoredRecord struct {
	Payload        map[string]any `json:"payload"`
	Score          float64        `json:"score"`
	Cosine         float64        `json:"cosine"`
	ImportanceNorm float64        `json:"importance_norm"`
}

// recallWithScores takes query, top_k and type from the query string; an
// optional JSON body may give the same fields (and filters). A query
// parameter wins over the body's field.
func (h *handlers) recallWithScores(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	var req recallRequest
	if ok := bindOptionalJSON(c, &req); !ok {
		return
	}
	src := map[string]string{}
	if s, ok := c.GetQuery("query"); ok {
		req.Query = &s
		src["query"] = "query"
	}
	if s, ok := c.GetQuery("type"); ok {
		req.Type = &s
		src["type"] = "query"
	}
	if _, ok := c.GetQuery("top_k"); ok {
		n, ok := intQuery(c, "top_k", queries.DefaultTopK)
		if !ok {
			return
		}
		req.TopK = &n
		src["top_k"] = "query"
	}
	if req.Query == nil {
		missing(c, "query", "query")
		return
	}
	where := func(field string) string {
		if s := src[field]; s != "" {
			return s
		}
		return "body"
	}
	res, err := h.app.RecallWithScores.Handle(c.Request.Context(), queries.RecallWithScores{Recall: queries.Recall{
		Caller: caller, Query: *req.Query, TopK: topK(req.TopK), Type: deref(req.Type), Filters: req.Filters,
	}})
	if err != nil {
		h.fail(c, err, where)
		return
	}
	out := make([]scoredRecord, len(res))
	for i, m := range res {
		out[i] = scoredRecord{Payload: m.Memory.Record(), Score: m.Score, Cosine: m.Cosine, ImportanceNorm: m.ImportanceNorm}
	}
	c.JSON(http.StatusOK, gin.H{"results": out})
}

// bindOptionalJSON decodes the body into v when it is not empty (only
// white space counts as empty).
func bindOptionalJSON(c *gin.Context, v any) bool {
	if c.Request.Body == nil || c.Request.Body == http.NoBody {
		return true
	}
	raw, err := io.ReadAll(c.Request.Body)
	if err != nil {
		httpx.BodyError(c, err)
		return false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return true
	}
	c.Request.Body = io.NopCloser(bytes.NewReader(raw))
	return httpx.BindJSON(c, v, httpx.UseNumber())
}

// recallWithContext takes query, top_k and type from the query string;
// the body is the context object.
func (h *handlers) recallWithContext(c *gin.Context) {
	caller, ok := h.caller(c)
	if !ok {
		return
	}
	query, ok := c.GetQuery("query")
	if !ok {
		missing(c, "query", "query")
		return
	}
	k, ok := intQuery(c, "top_k", queries.DefaultTopK)
	if !ok {
		return
	}
	var ctxObj map[string]any
	if !httpx.BindJSON(c, &ctxObj, httpx.UseNumber()) {
		return
	}
	res, err := h.app.RecallWithContext.Handle(c.Request.Context(), queries.RecallWithContext{Caller: caller, Query: query, Context: ctxObj, TopK: k, Type: c.Query("type")})
	if err != nil {
		h.fail(c, err, inQuery)
		return
	}
	c.JSON(http.StatusOK, gin.H{"results": records(res)})
}
