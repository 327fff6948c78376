package httpx

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
)

// Namespace returns the tenant of the request: the validated
// X-Soma-Namespace header, or Config.DefaultNamespace when the header is
// absent. It is "" only outside the API group (public routes).
func Namespace(c *gin.Context) string { return getString(c, keyNamespace) }

// Actor returns the label of the caller's token (never the token itself),
// or AnonymousActor when no token is configured or outside the API group.
func Actor(c *gin.Context) string {
	if a := getString(c, keyActor); a != "" {
		return a
	}
	return AnonymousActor
}

func getString(c *gin.Context, key ctxKey) string {
	v, _ := c.Get(key)
	s, _ := v.(string)
	return s
}

// authenticator checks bearer tokens and resolves the namespace.
// Tokens are kept as SHA-256 digests and compared in constant time against
// every configured token, so neither the match position nor the token
// length leaks through timing.
type authenticator struct {
	tokens           []tokenEntry
	defaultNamespace string
}

type tokenEntry struct {
	digest     [sha256.Size]byte
	label      string
	all        bool
	namespaces map[string]bool
}

func (e tokenEntry) allows(ns string) bool { return e.all || e.namespaces[ns] }

func newAuthenticator(cfg Config) *authenticator {
	a := &authenticator{defaultNamespace: cfg.DefaultNamespace}
	if cfg.APIToken != "" {
		a.tokens = append(a.tokens, tokenEntry{
			digest: sha256.Sum256([]byte(cfg.APIToken)),
			label:  APITokenLabel,
			all:    true,
		})
	}
	for _, st := range cfg.ScopedTokens {
		e := tokenEntry{digest: sha256.Sum256([]byte(st.Token)), label: st.Label, namespaces: map[string]bool{}}
		for _, ns := range st.Namespaces {
			if ns == AllNamespaces {
				e.all = true
			}
			e.namespaces[ns] = true
		}
		a.tokens = append(a.tokens, e)
	}
	return a
}

func (a *authenticator) enabled() bool { return len(a.tokens) > 0 }

// match returns the entry of token, visiting every entry whatever matches.
func (a *authenticator) match(token string) (tokenEntry, bool) {
	d := sha256.Sum256([]byte(token))
	found := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(d[:], a.tokens[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return tokenEntry{}, false
	}
	return a.tokens[found], true
}

// middleware authenticates the caller (401/403) and checks that its token
// covers the requested namespace (403). A syntactically invalid namespace
// is not rejected here but recorded for namespaceCheck, which runs after
// the rate limiter: such a request is authenticated, so it counts.
func (a *authenticator) middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		entry := tokenEntry{label: AnonymousActor, all: true}
		if a.enabled() {
			h := c.GetHeader(HeaderAuthorization)
			if !strings.HasPrefix(h, bearerPrefix) {
				c.Header("WWW-Authenticate", "Bearer")
				Error(c, http.StatusUnauthorized, DetailMissingBearer)
				return
			}
			e, ok := a.match(strings.TrimSpace(h[len(bearerPrefix):]))
			if !ok {
				Error(c, http.StatusForbidden, DetailInvalidToken)
				return
			}
			entry = e
		}
		c.Set(keyActor, entry.label)

		ns := c.GetHeader(HeaderNamespace)
		if ns == "" {
			ns = a.defaultNamespace
		}
		if err := ValidateNamespace(ns); err != nil {
			c.Set(keyNamespaceErr, err)
			c.Next()
			return
		}
		if !entry.allows(ns) {
			Error(c, http.StatusForbidden, DetailNamespaceForbidden)
			return
		}
		c.Set(keyNamespace, ns)
		c.Next()
	}
}

// namespaceCheck answers 400 for a namespace header that failed validation.
func namespaceCheck() gin.HandlerFunc {
	return func(c *gin.Context) {
		if v, ok := c.Get(keyNamespaceErr); ok {
			err, _ := v.(error)
			Error(c, http.StatusBadRequest, "Invalid "+HeaderNamespace+" header: "+err.Error())
			return
		}
		c.Next()
	}
}
