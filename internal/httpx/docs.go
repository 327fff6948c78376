package httpx

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"sort"
	"strings"
)

// renderDocs renders an OpenAPI JSON document as one self-contained HTML
// page (no script, no external resource): every operation with its
// parameters, request body, responses, then every schema. It is rendered
// once, when the engine is built.
func renderDocs(doc []byte) ([]byte, error) {
	var d oaDocument
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("openapi document: %w", err)
	}
	m := docPage{Title: d.Info.Title, Version: d.Info.Version, Description: d.Info.Description, OpenAPI: d.OpenAPI}
	if m.Title == "" {
		m.Title = "API"
	}
	paths := make([]string, 0, len(d.Paths))
	for p := range d.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		item := d.Paths[p]
		var shared []oaParameter
		if raw, ok := item["parameters"]; ok {
			_ = json.Unmarshal(raw, &shared)
		}
		for _, method := range openAPIMethods() {
			raw, ok := item[method]
			if !ok {
				continue
			}
			var op oaOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				return nil, fmt.Errorf("openapi %s %s: %w", method, p, err)
			}
			m.Operations = append(m.Operations, d.operation(strings.ToUpper(method), p, op, shared))
		}
	}
	names := make([]string, 0, len(d.Components.Schemas))
	for n := range d.Components.Schemas {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m.Schemas = append(m.Schemas, docSchema{Name: n, JSON: prettyJSON(d.Components.Schemas[n])})
	}
	tmpl, err := template.New("docs").Parse(docsTemplate)
	if err != nil {
		return nil, fmt.Errorf("docs template: %w", err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, m); err != nil {
		return nil, fmt.Errorf("render docs: %w", err)
	}
	return buf.Bytes(), nil
}

type oaDocument struct {
	OpenAPI string `json:"openapi"`
	Info    struct {
		Title       string `json:"title"`
		Version     string `json:"version"`
		Description string `json:"description"`
	} `json:"info"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components struct {
		Schemas       map[string]json.RawMessage `json:"schemas"`
		Parameters    map[string]oaParameter     `json:"parameters"`
		RequestBodies map[string]oaRequestBody   `json:"requestBodies"`
		Responses     map[string]oaResponse      `json:"responses"`
	} `json:"components"`
}

type oaOperation struct {
	Summary     string                `json:"summary"`
	Description string                `json:"description"`
	OperationID string                `json:"operationId"`
	Deprecated  bool                  `json:"deprecated"`
	Security    *[]json.RawMessage    `json:"security"`
	Parameters  []oaParameter         `json:"parameters"`
	RequestBody *oaRequestBody        `json:"requestBody"`
	Responses   map[string]oaResponse `json:"responses"`
}

type oaParameter struct {
	Ref         string          `json:"$ref"`
	Name        string          `json:"name"`
	In          string          `json:"in"`
	Required    bool            `json:"required"`
	Description string          `json:"description"`
	Schema      json.RawMessage `json:"schema"`
}

type oaRequestBody struct {
	Ref         string                 `json:"$ref"`
	Description string                 `json:"description"`
	Required    bool                   `json:"required"`
	Content     map[string]oaMediaType `json:"content"`
}

type oaResponse struct {
	Ref         string                 `json:"$ref"`
	Description string                 `json:"description"`
	Content     map[string]oaMediaType `json:"content"`
}

type oaMediaType struct {
	Schema json.RawMessage `json:"schema"`
}

type docPage struct {
	Title, Version, Description, OpenAPI string
	Operations                           []docOperation
	Schemas                              []docSchema
}

type docOperation struct {
	Method, Path, Anchor, Summary, Description string
	Deprecated, Public                         bool
	Parameters                                 []docParameter
	Body                                       *docBody
	Responses                                  []docResponse
}

type docParameter struct {
	Name, In, Description, Schema string
	Required                      bool
}

type docBody struct {
	Description string
	Required    bool
	Content     []docContent
}

type docContent struct {
	Type string
	docSchemaRef
}

// docSchemaRef is either a named schema (link) or an inline schema (JSON).
type docSchemaRef struct {
	Ref    string
	Inline string
}

type docResponse struct {
	Code, Description string
	Content           []docContent
}

type docSchema struct {
	Name, JSON string
}

func (d *oaDocument) operation(method, path string, op oaOperation, shared []oaParameter) docOperation {
	o := docOperation{
		Method: method, Path: path, Summary: op.Summary, Description: op.Description,
		Deprecated: op.Deprecated, Public: op.Security != nil && len(*op.Security) == 0,
		Anchor: "op-" + strings.ToLower(method) + "-" + anchorName(path),
	}
	for _, p := range append(append([]oaParameter{}, shared...), op.Parameters...) {
		p = d.parameter(p)
		o.Parameters = append(o.Parameters, docParameter{
			Name: p.Name, In: p.In, Required: p.Required, Description: p.Description, Schema: schemaSummary(p.Schema),
		})
	}
	if rb := op.RequestBody; rb != nil {
		if name, ok := refName(rb.Ref, "requestBodies"); ok {
			if r, ok := d.Components.RequestBodies[name]; ok {
				rb = &r
			}
		}
		o.Body = &docBody{Description: rb.Description, Required: rb.Required, Content: contents(rb.Content)}
	}
	codes := make([]string, 0, len(op.Responses))
	for c := range op.Responses {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, code := range codes {
		r := op.Responses[code]
		if name, ok := refName(r.Ref, "responses"); ok {
			if resolved, ok := d.Components.Responses[name]; ok {
				r = resolved
			}
		}
		o.Responses = append(o.Responses, docResponse{Code: code, Description: r.Description, Content: contents(r.Content)})
	}
	return o
}

func (d *oaDocument) parameter(p oaParameter) oaParameter {
	if name, ok := refName(p.Ref, "parameters"); ok {
		if r, ok := d.Components.Parameters[name]; ok {
			return r
		}
		p.Name = name
	}
	return p
}

func contents(c map[string]oaMediaType) []docContent {
	types := make([]string, 0, len(c))
	for t := range c {
		types = append(types, t)
	}
	sort.Strings(types)
	out := make([]docContent, 0, len(types))
	for _, t := range types {
		out = append(out, docContent{Type: t, docSchemaRef: schemaRef(c[t].Schema)})
	}
	return out
}

func schemaRef(raw json.RawMessage) docSchemaRef {
	var ref struct {
		Ref string `json:"$ref"`
	}
	if len(raw) == 0 {
		return docSchemaRef{}
	}
	if json.Unmarshal(raw, &ref) == nil {
		if name, ok := refName(ref.Ref, "schemas"); ok {
			return docSchemaRef{Ref: name}
		}
	}
	return docSchemaRef{Inline: prettyJSON(raw)}
}

// schemaSummary is a one-line description of a parameter schema.
func schemaSummary(raw json.RawMessage) string {
	if len(raw) == 0 {
		return ""
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return ""
	}
	return buf.String()
}

func refName(ref, section string) (string, bool) {
	return strings.CutPrefix(ref, "#/components/"+section+"/")
}

func prettyJSON(raw json.RawMessage) string {
	var buf bytes.Buffer
	if json.Indent(&buf, raw, "", "  ") != nil {
		return string(raw)
	}
	return buf.String()
}

func anchorName(path string) string {
	var b strings.Builder
	for _, r := range path {
		if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

const docsTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} {{.Version}}</title>
<style>
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:60rem;padding:1rem 2rem;color:#1b1f24;line-height:1.45}
h1{margin-bottom:0}
.meta{color:#57606a}
nav ul{list-style:none;padding:0;columns:2}
nav a,a{color:#0969da;text-decoration:none}
section.op{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
.method{display:inline-block;min-width:4.5rem;font-weight:bold;font-family:monospace}
.GET{color:#1a7f37}.POST{color:#0969da}.PUT,.PATCH{color:#9a6700}.DELETE{color:#cf222e}
code,pre{font-family:ui-monospace,monospace;font-size:.9em}
pre{background:#f6f8fa;padding:.5rem;overflow-x:auto;border-radius:4px}
table{border-collapse:collapse;width:100%}
td,th{border-top:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}
.tag{font-size:.8em;border:1px solid #d0d7de;border-radius:1em;padding:0 .5em;margin-left:.5em;color:#57606a}
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p class="meta">Version {{.Version}}{{if .OpenAPI}} · OpenAPI {{.OpenAPI}}{{end}} · machine-readable document: <a href="/openapi.json">/openapi.json</a></p>
{{if .Description}}<p>{{.Description}}</p>{{end}}
<nav><h2>Operations</h2><ul>
{{range .Operations}}<li><a href="#{{.Anchor}}"><span class="method {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code></a></li>
{{end}}</ul></nav>
{{range .Operations}}
<section class="op" id="{{.Anchor}}">
<h3><span class="method {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code>{{if .Public}}<span class="tag">no auth</span>{{end}}{{if .Deprecated}}<span class="tag">deprecated</span>{{end}}</h3>
{{if .Summary}}<p><strong>{{.Summary}}</strong></p>{{end}}
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{if .Parameters}}<h4>Parameters</h4>
<table><tr><th>name</th><th>in</th><th>required</th><th>schema</th><th>description</th></tr>
{{range .Parameters}}<tr><td><code>{{.Name}}</code></td><td>{{.In}}</td><td>{{if .Required}}yes{{else}}no{{end}}</td><td><code>{{.Schema}}</code></td><td>{{.Description}}</td></tr>
{{end}}</table>{{end}}
{{with .Body}}<h4>Request body{{if .Required}} (required){{end}}</h4>
{{if .Description}}<p>{{.Description}}</p>{{end}}
{{range .Content}}<p><code>{{.Type}}</code>{{if .Ref}}: <a href="#schema-{{.Ref}}">{{.Ref}}</a>{{end}}</p>{{if .Inline}}<pre>{{.Inline}}</pre>{{end}}
{{end}}{{end}}
{{if .Responses}}<h4>Responses</h4>
<table><tr><th>status</th><th>description</th><th>content</th></tr>
{{range .Responses}}<tr><td><code>{{.Code}}</code></td><td>{{.Description}}</td><td>{{range .Content}}<code>{{.Type}}</code>{{if .Ref}}: <a href="#schema-{{.Ref}}">{{.Ref}}</a>{{end}}{{if .Inline}}<pre>{{.Inline}}</pre>{{end}} {{end}}</td></tr>
{{end}}</table>{{end}}
</section>
{{end}}
{{if .Schemas}}<h2>Schemas</h2>
{{range .Schemas}}<section id="schema-{{.Name}}"><h3><code>{{.Name}}</code></h3><pre>{{.JSON}}</pre></section>
{{end}}{{end}}
</body>
</html>
`
