package httpx

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/gin-gonic/gin"
)

// publicOpenAPI documents the public routes and the shared components
// (error bodies, security scheme, namespace header, common responses) that
// API documents may reference as #/components/....
//
//go:embed openapi_public.json
var publicOpenAPI []byte

// openAPIMethods returns the operation keys of an OpenAPI path item, in
// the order /docs lists them.
func openAPIMethods() []string {
	return []string{"get", "post", "put", "patch", "delete", "head", "options", "trace"}
}

// PublicOpenAPI returns the OpenAPI fragment ({"paths": ..., "components":
// ...}) describing the public routes and the shared components.
func PublicOpenAPI() []byte { return bytes.Clone(publicOpenAPI) }

// MergePublicPaths returns doc, an OpenAPI 3.x JSON document, with the
// public routes and shared components added. What doc already defines wins
// (a path's existing operations, components of the same name). When doc
// has no top-level "security", bearer auth is declared for every operation
// (public ones opt out with "security": []). New does this to the document
// it serves, so calling it first is not needed.
func MergePublicPaths(doc []byte) ([]byte, error) {
	var d map[string]any
	if err := decodeJSONObject(doc, &d); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	var pub map[string]any
	if err := decodeJSONObject(publicOpenAPI, &pub); err != nil {
		return nil, fmt.Errorf("public openapi fragment: %w", err)
	}
	paths, err := subObject(d, "paths")
	if err != nil {
		return nil, err
	}
	for p, item := range pub["paths"].(map[string]any) {
		existing, ok := paths[p].(map[string]any)
		if !ok {
			paths[p] = item
			continue
		}
		for method, op := range item.(map[string]any) {
			if _, ok := existing[method]; !ok {
				existing[method] = op
			}
		}
	}
	comps, err := subObject(d, "components")
	if err != nil {
		return nil, err
	}
	for section, entries := range pub["components"].(map[string]any) {
		dst, err := subObject(comps, section)
		if err != nil {
			return nil, fmt.Errorf("components: %w", err)
		}
		for name, v := range entries.(map[string]any) {
			if _, ok := dst[name]; !ok {
				dst[name] = v
			}
		}
	}
	if _, ok := d["security"]; !ok {
		d["security"] = []any{map[string]any{"bearer": []any{}}}
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode openapi document: %w", err)
	}
	return out, nil
}

// baseOpenAPI is the document served when an API supplies none.
func baseOpenAPI(title, version string) []byte {
	b, _ := json.Marshal(map[string]any{
		"openapi": "3.1.0",
		"info":    map[string]any{"title": title, "version": version},
		"paths":   map[string]any{},
	})
	return b
}

func decodeJSONObject(b []byte, v *map[string]any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if *v == nil {
		return errors.New("not a JSON object")
	}
	if dec.More() {
		return errors.New("data after the JSON object")
	}
	return nil
}

func subObject(m map[string]any, key string) (map[string]any, error) {
	v, ok := m[key]
	if !ok || v == nil {
		sub := map[string]any{}
		m[key] = sub
		return sub, nil
	}
	sub, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%q is not an object", key)
	}
	return sub, nil
}

// CompareRoutes compares the routes of an engine (engine.Routes()) with the
// operations of an OpenAPI JSON document. Both lists hold "METHOD /path"
// in OpenAPI syntax ("/memory/{coord}"), sorted: undocumented are routes
// the document lacks, unserved are operations no route serves. Path
// parameters match whatever their names.
func CompareRoutes(routes gin.RoutesInfo, doc []byte) (undocumented, unserved []string, err error) {
	var d struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, nil, fmt.Errorf("openapi document: %w", err)
	}
	documented := map[string]string{} // normalised key → display
	for p, item := range d.Paths {
		for _, m := range openAPIMethods() {
			if _, ok := item[m]; ok {
				documented[strings.ToUpper(m)+" "+normalisePath(p)] = strings.ToUpper(m) + " " + p
			}
		}
	}
	served := map[string]bool{}
	for _, r := range routes {
		p := OpenAPIPath(r.Path)
		key := r.Method + " " + normalisePath(p)
		served[key] = true
		if _, ok := documented[key]; !ok {
			undocumented = append(undocumented, r.Method+" "+p)
		}
	}
	for key, display := range documented {
		if !served[key] {
			unserved = append(unserved, display)
		}
	}
	sort.Strings(undocumented)
	sort.Strings(unserved)
	return undocumented, unserved, nil
}

// OpenAPIPath converts a gin route path ("/memory/:coord", "/files/*rest")
// to OpenAPI syntax ("/memory/{coord}", "/files/{rest}").
func OpenAPIPath(ginPath string) string {
	parts := strings.Split(ginPath, "/")
	for i, p := range parts {
		if strings.HasPrefix(p, ":") || strings.HasPrefix(p, "*") {
			parts[i] = "{" + p[1:] + "}"
		}
	}
	return strings.Join(parts, "/")
}

// normalisePath replaces every "{name}" segment by "{}".
func normalisePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			parts[i] = "{}"
		}
	}
	return strings.Join(parts, "/")
}
