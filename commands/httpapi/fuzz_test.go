package httpapi_test

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzCommandBodies sends arbitrary bodies to every command route: the
// answer is always a JSON error or success, never a 500, and a rejected
// command publishes nothing.
func FuzzCommandBodies(f *testing.F) {
	for _, seed := range []string{
		`{"coord":"1,2","payload":{"text":"x"}}`,
		`{"coord":[1,2],"payload":{"importance":1e308}}`,
		`{"items":[{"coord":"1","payload":{}},{"coord":"nan","payload":{}}]}`,
		`{"from_coord":"1","to_coord":"2","weight":-0}`,
		`{"coords":["1",[2],null]}`,
		`{"coord":"1","importance":"x"}`,
		"{\"coordinate\":[1],\"text\":\"a\"}\n\nnot json",
		`{"coord":"1e400","payload":{}}`,
		`{"coord":"","payload":{"a":{"b":[1,2,{"c":null}]}}}`,
		`[]`, `null`, `{"payload":null}`, "\x00\xff",
	} {
		f.Add(seed)
	}
	routes := []string{"/store", "/remember", "/store_bulk", "/link", "/unlink", "/delete", "/delete_many", "/set_importance", "/import"}
	e := newEnv(f, nil)
	f.Fuzz(func(t *testing.T, body string) {
		for _, route := range routes {
			before := e.sink.count()
			w := e.do(t, http.MethodPost, route, body)
			if w.Code >= 500 {
				t.Fatalf("%s %q: %d %s", route, body, w.Code, w.Body.String())
			}
			var v map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
				t.Fatalf("%s %q: answer is not a JSON object: %s", route, body, w.Body.String())
			}
			if w.Code >= 400 && e.sink.count() != before {
				t.Fatalf("%s %q: rejected with %d but published", route, body, w.Code)
			}
		}
	})
}
