package config

// Client is what the `soma` client subcommands (store, recall, …) take
// from the environment; their flags override it.
type Client struct {
	// URL and QueryURL are the base URLs of the write and query APIs
	// (QueryURL empty: URL).
	URL      string
	QueryURL string
	// Token is the bearer token (SOMA_API_TOKEN, the variable the
	// service checks).
	Token string
	// Namespace is SOMA_MEMORY_NAMESPACE when set, else empty: the
	// service's default namespace.
	Namespace string
}

// LoadClient reads the client's variables. It never fails: URLs are
// checked when the client is built.
func LoadClient(lookup Lookup) Client {
	return loadClient(&reader{lookup: lookup})
}

func loadClient(r *reader) Client {
	ns, _ := r.raw("SOMA_MEMORY_NAMESPACE")
	return Client{
		URL:       r.str("SOMA_URL"),
		QueryURL:  r.str("SOMA_QUERY_URL"),
		Token:     r.str("SOMA_API_TOKEN"),
		Namespace: ns,
	}
}
