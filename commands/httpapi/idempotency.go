package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/internal/consistency"
	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/internal/idempotency"
)

// HeaderReplayed marks an answer replayed for a retried Idempotency-Key.
const HeaderReplayed = "Idempotent-Replayed"

// maxIdempotencyKey bounds the header's length.
const maxIdempotencyKey = 255

// idempotent returns middleware that makes a command with an
// Idempotency-Key run at most once per namespace, route and key: a retry
// with the same body gets the first answer (with Idempotent-Replayed:
// true); a retry with another body gets 422; a retry while the first is
// still running gets 409. Answers of 5xx are not remembered, so a client
// may retry after an outage.
func idempotent(store idempotency.Store, ttl, retryAfter time.Duration) gin.HandlerFunc {
	return func(c *gin.Context) {
		key := c.GetHeader(HeaderIdempotencyKey)
		if store == nil || key == "" {
			c.Next()
			return
		}
		if len(key) > maxIdempotencyKey {
			httpx.ValidationError(c, []httpx.FieldError{{Loc: []any{"header", HeaderIdempotencyKey}, Msg: "at most 255 characters", Type: "string_too_long"}})
			return
		}
		body, err := io.ReadAll(c.Request.Body)
		if err != nil {
			httpx.BodyError(c, err)
			return
		}
		c.Request.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.New()
		sum.Write([]byte(c.Request.Method + " " + c.FullPath() + "?" + c.Request.URL.RawQuery + "\n"))
		sum.Write(body)
		fp := hex.EncodeToString(sum.Sum(nil))
		scoped := httpx.Namespace(c) + "\x00" + c.FullPath() + "\x00" + key

		outcome, prev, err := store.Begin(c.Request.Context(), scoped, fp, ttl)
		switch {
		case err != nil:
			httpx.Unavailable(c, retryAfter, "idempotency store unavailable")
			return
		case outcome == idempotency.Replay:
			for k, v := range prev.Header {
				c.Header(k, v)
			}
			c.Header(HeaderReplayed, "true")
			c.Data(prev.Status, "application/json; charset=utf-8", prev.Body)
			c.Abort()
			return
		case outcome == idempotency.InProgress:
			httpx.Error(c, http.StatusConflict, "A request with this Idempotency-Key is still in progress")
			return
		case outcome == idempotency.Mismatch:
			httpx.ValidationError(c, []httpx.FieldError{{Loc: []any{"header", HeaderIdempotencyKey}, Msg: "Idempotency-Key was already used for a different request", Type: "value_error"}})
			return
		}

		rec := &recorder{ResponseWriter: c.Writer}
		c.Writer = rec
		c.Next()
		status := rec.Status()
		// Detached from the request: the answer must be stored even if
		// the client went away.
		ctx := context.WithoutCancel(c.Request.Context())
		if status >= 500 {
			_ = store.Release(ctx, scoped)
			return
		}
		hdr := map[string]string{}
		if v := rec.Header().Get(consistency.Header); v != "" {
			hdr[consistency.Header] = v
		}
		_ = store.Complete(ctx, scoped, fp, idempotency.Response{Status: status, Header: hdr, Body: rec.buf.Bytes()}, ttl)
	}
}

// recorder keeps a copy of the response body.
type recorder struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (r *recorder) Write(b []byte) (int, error) {
	r.buf.Write(b)
	return r.ResponseWriter.Write(b)
}

func (r *recorder) WriteString(s string) (int, error) {
	r.buf.WriteString(s)
	return r.ResponseWriter.WriteString(s)
}
