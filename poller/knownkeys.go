package poller

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// A Block is decoded in two passes: yaml.v3 or encoding/json decode its values without
// looking at unknown keys, and the functions here find the keys that the target type
// has no field for. yaml.v3 refuses unknown keys only for a whole document, and
// encoding/json only with no exception, while a block is a part of the file and a
// carrier's block holds a type key that is not the driver's.

// yamlUnknownKeys calls unknown with the line and name of each key of n that t has
// no field for, in the order of the file, as yaml.v3's KnownFields would report them.
// skip holds keys of the top mapping that are known elsewhere.
func yamlUnknownKeys(n *yaml.Node, t reflect.Type, skip map[string]bool, unknown func(line int, key string)) {
	w := yamlWalk{unknown: unknown, visits: maxYAMLVisits}
	w.walk(n, t, skip)
}

// maxYAMLVisits bounds the nodes a walk visits: merge keys and aliases can make a
// small file a huge tree (yaml.v3 refuses such a file as excessive aliasing).
const maxYAMLVisits = 1 << 18

type yamlWalk struct {
	unknown func(line int, key string)
	visits  int
}

func (w *yamlWalk) walk(n *yaml.Node, t reflect.Type, skip map[string]bool) {
	n = resolveYAML(n)
	t = indirect(t)
	if n == nil || isOpaque(t, yamlUnmarshaler) || w.visits <= 0 {
		return
	}
	w.visits--
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		if n.Kind != yaml.MappingNode || hasDuplicateKeys(n) {
			return // yaml.v3 reports the mismatch or the duplicate and goes no deeper
		}
		fields := fieldTypes(t, "yaml")
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			switch {
			case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
				for _, m := range mergedMappings(v) {
					w.walk(m, t, skip)
				}
			case k.Kind != yaml.ScalarNode || skip[k.Value]:
				// A key that is not a string is yaml.v3's to report.
			case t.Kind() == reflect.Map:
				w.walk(v, t.Elem(), nil)
			case fields[k.Value] == nil:
				w.unknown(k.Line, k.Value)
			default:
				w.walk(v, fields[k.Value], nil)
			}
		}
	case reflect.Slice, reflect.Array:
		if n.Kind == yaml.SequenceNode {
			for _, item := range n.Content {
				w.walk(item, t.Elem(), nil)
			}
		}
	}
}

// resolveYAML returns the node n stands for: the content of a document, the target of
// an alias.
func resolveYAML(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.DocumentNode && len(n.Content) == 1:
			n = n.Content[0]
		case n.Kind == yaml.AliasNode:
			n = n.Alias
		default:
			return n
		}
	}
	return nil
}

// mergedMappings returns the mappings a merge key ("<<: *base") brings in.
func mergedMappings(v *yaml.Node) []*yaml.Node {
	v = resolveYAML(v)
	if v != nil && v.Kind == yaml.SequenceNode {
		return v.Content
	}
	return []*yaml.Node{v}
}

func hasDuplicateKeys(n *yaml.Node) bool {
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if k.Kind != yaml.ScalarNode {
			continue
		}
		if seen[k.Value] {
			return true
		}
		seen[k.Value] = true
	}
	return false
}

// jsonUnknownKey returns the first key of the JSON value raw, which starts at offset
// in the file, that t has no field for, and the offset just after that key. Keys
// match fields without regard to case, as in encoding/json. skip holds keys of the top
// object that are known elsewhere.
func jsonUnknownKey(raw []byte, offset int64, t reflect.Type, skip map[string]bool) (key string, at int64, found bool) {
	t = indirect(t)
	if len(raw) == 0 || isOpaque(t, jsonUnmarshaler) {
		return "", 0, false
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		if raw[0] != '{' {
			return "", 0, false // encoding/json reports the mismatch
		}
		fields := fieldTypes(t, "json")
		for _, m := range jsonMembers(raw, offset) {
			var ft reflect.Type
			switch {
			case hasFold(skip, m.key):
				continue
			case t.Kind() == reflect.Map:
				ft = t.Elem()
			default:
				if ft = fieldFold(fields, m.key); ft == nil {
					return m.key, m.keyEnd, true
				}
			}
			if key, at, found := jsonUnknownKey(m.value, m.offset, ft, nil); found {
				return key, at, true
			}
		}
	case reflect.Slice, reflect.Array:
		if raw[0] != '[' {
			return "", 0, false
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.Token() // [
		for dec.More() {
			var item json.RawMessage
			if dec.Decode(&item) != nil {
				break
			}
			if key, at, found := jsonUnknownKey(item, offset+dec.InputOffset()-int64(len(item)), t.Elem(), nil); found {
				return key, at, true
			}
		}
	}
	return "", 0, false
}

// jsonMember is a member of a JSON object: its key, where the key ends, and its value
// with where that starts, as offsets in the file.
type jsonMember struct {
	key    string
	keyEnd int64
	value  json.RawMessage
	offset int64
}

// jsonMembers returns the members of the JSON object raw, which starts at offset in the
// file, in their order; nothing when raw is not an object. raw is valid JSON.
func jsonMembers(raw []byte, offset int64) []jsonMember {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var members []jsonMember
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		m := jsonMember{keyEnd: offset + dec.InputOffset()}
		m.key, _ = tok.(string)
		if dec.Decode(&m.value) != nil {
			break
		}
		m.offset = offset + dec.InputOffset() - int64(len(m.value))
		members = append(members, m)
	}
	return members
}

var (
	yamlUnmarshaler = reflect.TypeFor[yaml.Unmarshaler]()
	jsonUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	yamlNode        = reflect.TypeFor[yaml.Node]()
)

// isOpaque reports whether values of t decode themselves (yaml.Node, or a type with
// its own unmarshaler) or take anything (an interface), so that their keys are not
// checked.
func isOpaque(t reflect.Type, unmarshaler reflect.Type) bool {
	return t == yamlNode || t.Kind() == reflect.Interface || t.Implements(unmarshaler) || reflect.PointerTo(t).Implements(unmarshaler)
}

func indirect(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t
}

// fieldTypes maps the keys of struct t, as the tag named tag ("yaml" or "json") or
// the decoder's default spells them, to their types; fields inlined with yaml's
// ",inline" or embedded for encoding/json are included. nil for other kinds.
func fieldTypes(t reflect.Type, tag string) map[string]reflect.Type {
	if t.Kind() != reflect.Struct {
		return nil
	}
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, opts, _ := strings.Cut(f.Tag.Get(tag), ",")
		inline := tag == "yaml" && strings.Contains(opts, "inline") || tag == "json" && f.Anonymous && name == ""
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
		case inline:
			for k, v := range fieldTypes(indirect(f.Type), tag) {
				fields[k] = v
			}
		case name != "":
			fields[name] = f.Type
		case tag == "yaml":
			fields[strings.ToLower(f.Name)] = f.Type
		default:
			fields[f.Name] = f.Type
		}
	}
	return fields
}

func fieldFold(fields map[string]reflect.Type, key string) reflect.Type {
	if t, ok := fields[key]; ok {
		return t
	}
	for name, t := range fields {
		if strings.EqualFold(name, key) {
			return t
		}
	}
	return nil
}

func hasFold(set map[string]bool, key string) bool {
	for k := range set {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}
