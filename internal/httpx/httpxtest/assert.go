// Package httpxtest holds test assertions for engines built with httpx.
package httpxtest

import (
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/somafractalmemory/soma/internal/httpx"
)

// AssertRoutesDocumented fails t when a route registered on engine has no
// operation with the same method and path in the OpenAPI JSON document
// (path parameters match whatever their names). Pass the document the
// engine serves (httpx.Server.OpenAPI), which includes the public routes.
func AssertRoutesDocumented(t testing.TB, engine *gin.Engine, openapiJSON []byte) {
	t.Helper()
	undocumented, _, err := httpx.CompareRoutes(engine.Routes(), openapiJSON)
	if err != nil {
		t.Fatalf("compare routes with OpenAPI document: %v", err)
	}
	if len(undocumented) > 0 {
		t.Errorf("routes missing from the OpenAPI document:\n  %s", strings.Join(undocumented, "\n  "))
	}
}

// AssertDocumentMatchesRoutes is AssertRoutesDocumented plus the converse:
// every operation of the document is served by engine.
func AssertDocumentMatchesRoutes(t testing.TB, engine *gin.Engine, openapiJSON []byte) {
	t.Helper()
	undocumented, unserved, err := httpx.CompareRoutes(engine.Routes(), openapiJSON)
	if err != nil {
		t.Fatalf("compare routes with OpenAPI document: %v", err)
	}
	if len(undocumented) > 0 {
		t.Errorf("routes missing from the OpenAPI document:\n  %s", strings.Join(undocumented, "\n  "))
	}
	if len(unserved) > 0 {
		t.Errorf("documented operations no route serves:\n  %s", strings.Join(unserved, "\n  "))
	}
}
