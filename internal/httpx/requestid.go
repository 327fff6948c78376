package httpx

import (
	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyNamespace
	keyActor
	keyNamespaceErr
)

const maxRequestIDLen = 128

// RequestID returns the request id of the request: the client's
// X-Request-ID when sane, otherwise a generated UUID. It is echoed in the
// response header and logged.
func RequestID(c *gin.Context) string {
	v, _ := c.Get(keyRequestID)
	s, _ := v.(string)
	return s
}

func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(HeaderRequestID)
		if !saneRequestID(id) {
			id = uuid.NewString()
		}
		c.Set(keyRequestID, id)
		c.Header(HeaderRequestID, id)
		c.Next()
	}
}

// saneRequestID accepts 1–128 characters of [A-Za-z0-9._:-] (UUIDs, ULIDs,
// hex and most tracing ids), so the id is safe to log and echo.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !namespaceChar(id[i]) {
			return false
		}
	}
	return true
}
