package httpx

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"
)

// recovery turns a panic in a handler into a logged error and a JSON 500
// {"detail":"Internal Server Error"}. http.ErrAbortHandler is re-raised so
// net/http aborts the response as intended.
func recovery(log *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if err, ok := rec.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(rec)
			}
			log.ErrorContext(c.Request.Context(), "panic in handler",
				slog.String("panic", fmt.Sprint(rec)),
				slog.String("method", c.Request.Method),
				slog.String("route", c.FullPath()),
				slog.String("request_id", RequestID(c)),
				slog.String("stack", string(debug.Stack())),
			)
			if c.Writer.Written() {
				c.Abort()
				return
			}
			Error(c, http.StatusInternalServerError, DetailInternal)
		}()
		c.Next()
	}
}
