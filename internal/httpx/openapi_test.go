package httpx_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/internal/httpx"
	"github.com/somafractalmemory/soma/internal/httpx/httpxtest"
)

const apiDoc = `{
  "openapi": "3.1.0",
  "info": {"title": "Test API", "version": "9.9", "description": "An API <b>for tests</b>."},
  "paths": {
    "/store": {"post": {
      "summary": "Store a memory",
      "parameters": [{"$ref": "#/components/parameters/Namespace"}],
      "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StoreRequest"}}}},
      "responses": {"200": {"description": "Stored."}, "401": {"$ref": "#/components/responses/Unauthorized"}}
    }},
    "/memory/{coordinate}": {"get": {
      "summary": "One memory",
      "parameters": [{"name": "coordinate", "in": "path", "required": true, "schema": {"type": "string"}}],
      "responses": {"200": {"description": "The record."}}
    }},
    "/healthz": {"get": {"summary": "Custom health text", "responses": {"200": {"description": "mine"}}}}
  },
  "components": {
    "schemas": {
      "StoreRequest": {"type": "object", "properties": {"coord": {"type": "string"}}},
      "ErrorResponse": {"type": "object", "description": "the API's own"}
    }
  }
}`

func TestMergePublicPaths(t *testing.T) {
	merged, err := httpx.MergePublicPaths([]byte(apiDoc))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Info       map[string]any                       `json:"info"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Security   []map[string][]string                `json:"security"`
		Components struct {
			Schemas         map[string]map[string]any `json:"schemas"`
			SecuritySchemes map[string]any            `json:"securitySchemes"`
			Parameters      map[string]any            `json:"parameters"`
		} `json:"components"`
	}
	if err := json.Unmarshal(merged, &doc); err != nil {
		t.Fatal(err)
	}
	t.Run("adds_public_paths", func(t *testing.T) {
		for _, p := range []string{"/", "/health", "/readyz", "/metrics", "/openapi.json", "/docs"} {
			if doc.Paths[p]["get"] == nil {
				t.Errorf("GET %s missing", p)
			}
		}
	})
	t.Run("keeps_the_api_paths_and_operations", func(t *testing.T) {
		if doc.Paths["/store"]["post"]["summary"] != "Store a memory" || doc.Paths["/memory/{coordinate}"]["get"] == nil {
			t.Fatalf("API paths changed: %v", doc.Paths)
		}
		if doc.Paths["/healthz"]["get"]["summary"] != "Custom health text" {
			t.Fatalf("an operation the document defines must win: %v", doc.Paths["/healthz"])
		}
		if doc.Info["title"] != "Test API" {
			t.Fatalf("info changed: %v", doc.Info)
		}
	})
	t.Run("adds_missing_components_only", func(t *testing.T) {
		if doc.Components.Schemas["ErrorResponse"]["description"] != "the API's own" {
			t.Fatal("an existing schema was replaced")
		}
		for _, s := range []string{"StoreRequest", "ValidationErrorResponse", "FieldError"} {
			if doc.Components.Schemas[s] == nil {
				t.Errorf("schema %s missing", s)
			}
		}
		if doc.Components.SecuritySchemes["bearer"] == nil || doc.Components.Parameters["Namespace"] == nil {
			t.Fatal("shared security scheme or parameter missing")
		}
	})
	t.Run("declares_bearer_security", func(t *testing.T) {
		if !reflect.DeepEqual(doc.Security, []map[string][]string{{"bearer": {}}}) {
			t.Fatalf("security = %v", doc.Security)
		}
	})
	t.Run("is_idempotent", func(t *testing.T) {
		again, err := httpx.MergePublicPaths(merged)
		if err != nil || string(again) != string(merged) {
			t.Fatalf("merging twice changed the document (err %v)", err)
		}
	})
	t.Run("rejects_non_objects", func(t *testing.T) {
		for _, bad := range []string{``, `null`, `[]`, `{"paths": []}`, `{} {}`} {
			if _, err := httpx.MergePublicPaths([]byte(bad)); err == nil {
				t.Errorf("accepted %q", bad)
			}
		}
	})
}

func TestRoutesDocumented(t *testing.T) {
	s := newServer(t, testConfig(), httpx.Deps{OpenAPI: []byte(apiDoc)})
	s.API.POST("/store", func(*gin.Context) {})
	s.API.GET("/memory/:coord", func(*gin.Context) {})

	t.Run("served_document_covers_every_route", func(t *testing.T) {
		// newServer registers /echo, which this document lacks.
		undocumented, unserved, err := httpx.CompareRoutes(s.Engine.Routes(), s.OpenAPI)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(undocumented, []string{"GET /echo", "POST /echo"}) || len(unserved) != 0 {
			t.Fatalf("undocumented %v, unserved %v", undocumented, unserved)
		}
	})
	t.Run("reports_documented_operations_without_route", func(t *testing.T) {
		e := gin.New()
		e.POST("/store", func(*gin.Context) {})
		undocumented, unserved, err := httpx.CompareRoutes(e.Routes(), []byte(apiDoc))
		if err != nil {
			t.Fatal(err)
		}
		if len(undocumented) != 0 || !reflect.DeepEqual(unserved, []string{"GET /healthz", "GET /memory/{coordinate}"}) {
			t.Fatalf("undocumented %v, unserved %v", undocumented, unserved)
		}
	})
	t.Run("assertion_passes_for_a_documented_engine", func(t *testing.T) {
		s := newServer(t, testConfig(), httpx.Deps{OpenAPI: []byte(apiDoc)})
		s.API.POST("/store", func(*gin.Context) {})
		s.API.GET("/memory/:coord", func(*gin.Context) {})
		doc, err := httpx.MergePublicPaths([]byte(strings.Replace(apiDoc,
			`"/store": {`, `"/echo": {"get": {"responses": {}}, "post": {"responses": {}}}, "/store": {`, 1)))
		if err != nil {
			t.Fatal(err)
		}
		httpxtest.AssertDocumentMatchesRoutes(t, s.Engine, doc)
	})
	t.Run("assertion_fails_for_an_undocumented_route", func(t *testing.T) {
		rec := &recordingT{TB: t}
		httpxtest.AssertRoutesDocumented(rec, s.Engine, s.OpenAPI)
		if !rec.failed || !strings.Contains(rec.msg, "GET /echo") {
			t.Fatalf("assertion did not report GET /echo: failed=%v %q", rec.failed, rec.msg)
		}
	})
}

// recordingT captures failures of an assertion under test.
type recordingT struct {
	testing.TB
	failed bool
	msg    string
}

func (r *recordingT) Helper() {}

func (r *recordingT) Errorf(format string, args ...any) {
	r.failed = true
	r.msg += strings.TrimSpace(fmt.Sprintf(format, args...))
}

func (r *recordingT) Fatalf(format string, args ...any) { r.Errorf(format, args...) }

func TestDocsRendersTheDocument(t *testing.T) {
	s := newServer(t, testConfig(), httpx.Deps{OpenAPI: []byte(apiDoc)})
	rec := do(t, s, http.MethodGet, "/docs", nil)
	body := rec.Body.String()
	for _, want := range []string{
		"<title>Test API 9.9</title>",
		"<code>/store</code>", "Store a memory", "X-Soma-Namespace",
		`href="#schema-StoreRequest"`, `id="schema-StoreRequest"`,
		"<code>/memory/{coordinate}</code>",
		"An API &lt;b&gt;for tests&lt;/b&gt;.",
		"Missing bearer token",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/docs lacks %q", want)
		}
	}
	if strings.Contains(body, "<b>for tests</b>") {
		t.Error("/docs does not escape the document's text")
	}
}
