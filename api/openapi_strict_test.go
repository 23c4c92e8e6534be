package api

import (
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// tighten makes kin-openapi validate the spec as a strict validator would, and closes
// its objects:
//   - every object schema with properties that does not say otherwise forbids other
//     properties. The published spec leaves objects open, so that clients ignore
//     fields added later; closed, a field the server sends but the spec does not
//     describe fails the test.
//   - nullable counts only where OpenAPI 3.0.3 gives it a meaning: beside a type
//     ("A true value adds null to the allowed types specified by the type keyword,
//     only if type is explicitly defined within the same Schema Object"), and only
//     when every allOf part allows null too, as a JSON Schema validator evaluates
//     allOf on a null as well. kin-openapi honours nullable anywhere, and lets a null
//     through where a strict validator refuses a real response.
//
// Every schema of the document is tightened: components, parameters, bodies,
// responses, headers and callbacks.
func tighten(doc *openapi3.T) {
	all := allSchemas(doc)
	for _, s := range all {
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
			no := false
			s.AdditionalProperties.Has = &no
		}
		if s.Type == nil {
			s.Nullable = false
		}
	}
	for _, s := range all {
		for _, part := range s.AllOf {
			if !part.Value.Nullable {
				s.Nullable = false
			}
		}
	}
}

// allSchemas returns every schema of the document once, nested ones included.
func allSchemas(doc *openapi3.T) []*openapi3.Schema {
	var all []*openapi3.Schema
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		all = append(all, s)
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		walk(s.Not)
		for _, group := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
			for _, sub := range group {
				walk(sub)
			}
		}
	}
	eachSchema(doc, walk)
	return all
}

// eachSchema calls visit with every schema the document holds outside other schemas.
func eachSchema(doc *openapi3.T, visit func(*openapi3.SchemaRef)) {
	params := func(ps openapi3.Parameters) {
		for _, p := range ps {
			visit(p.Value.Schema)
			for _, mt := range p.Value.Content {
				visit(mt.Schema)
			}
		}
	}
	content := func(c openapi3.Content) {
		for _, mt := range c {
			visit(mt.Schema)
		}
	}
	response := func(r *openapi3.ResponseRef) {
		content(r.Value.Content)
		for _, h := range r.Value.Headers {
			visit(h.Value.Schema)
		}
	}
	var item func(pi *openapi3.PathItem)
	item = func(pi *openapi3.PathItem) {
		params(pi.Parameters)
		for _, op := range pi.Operations() {
			params(op.Parameters)
			if op.RequestBody != nil {
				content(op.RequestBody.Value.Content)
			}
			for _, r := range op.Responses.Map() {
				response(r)
			}
			for _, cb := range op.Callbacks {
				for _, pi := range cb.Value.Map() {
					item(pi)
				}
			}
		}
	}
	c := doc.Components
	for _, s := range c.Schemas {
		visit(s)
	}
	for _, p := range c.Parameters {
		params(openapi3.Parameters{p})
	}
	for _, r := range c.Responses {
		response(r)
	}
	for _, h := range c.Headers {
		visit(h.Value.Schema)
	}
	for _, pi := range doc.Paths.Map() {
		item(pi)
	}
}

// TestTighten_NullableCountsOnlyBesideAType shows what tighten changes: kin-openapi
// lets a null through a nullable without a type, or one whose allOf part refuses
// null; a strict validator, and the tightened spec, refuse it.
func TestTighten_NullableCountsOnlyBesideAType(t *testing.T) {
	doc := &openapi3.T{Components: &openapi3.Components{Schemas: openapi3.Schemas{
		"Part": openapi3.NewSchemaRef("", openapi3.NewObjectSchema().WithProperty("id", openapi3.NewStringSchema())),
	}}, Paths: openapi3.NewPaths()}
	part := openapi3.NewSchemaRef("#/components/schemas/Part", doc.Components.Schemas["Part"].Value)
	cases := map[string]*openapi3.Schema{
		"nullable allOf without a type": {AllOf: openapi3.SchemaRefs{part}, Nullable: true},
		"nullable allOf with a type":    {Type: &openapi3.Types{"object"}, AllOf: openapi3.SchemaRefs{part}, Nullable: true},
	}
	for name, s := range cases {
		doc.Components.Schemas[name] = openapi3.NewSchemaRef("", s)
		if err := s.VisitJSON(nil); err != nil {
			t.Fatalf("%s: kin-openapi refuses null already (%v): tighten may no longer be needed", name, err)
		}
	}
	typed := &openapi3.Schema{Type: &openapi3.Types{"array"}, Nullable: true, Items: openapi3.NewSchemaRef("", openapi3.NewStringSchema())}
	doc.Components.Schemas["typed"] = openapi3.NewSchemaRef("", typed)
	tighten(doc)
	for name, s := range cases {
		if err := s.VisitJSON(nil); err == nil {
			t.Errorf("%s: null passes the tightened schema", name)
		}
	}
	if err := typed.VisitJSON(nil); err != nil {
		t.Errorf("a nullable array refuses null: %v", err)
	}
	if err := doc.Components.Schemas["Part"].Value.VisitJSON(map[string]any{"id": "x", "extra": 1}); err == nil {
		t.Error("an undescribed property passes a closed object")
	}
}

// TestOpenAPI_NullableOnlyBesideAType: in OpenAPI 3.0.3 nullable means something only
// beside a type, and a nullable schema whose allOf parts refuse null refuses it too,
// so strict validators refuse a null there (Redocly reports nullable-type-sibling).
// kin-openapi does not mind: this keeps such schemas out of the spec.
func TestOpenAPI_NullableOnlyBesideAType(t *testing.T) {
	doc := loadSpec(t)
	n := 0
	for _, s := range allSchemas(doc) {
		if !s.Nullable {
			continue
		}
		n++
		if s.Type == nil || len(s.AllOf) > 0 || len(s.OneOf) > 0 || len(s.AnyOf) > 0 {
			t.Errorf("a nullable schema without a type of its own, or composed (%q): give it a type and no allOf", s.Description)
		}
	}
	if n == 0 {
		t.Fatal("no nullable schema found: the walk misses schemas")
	}
}
