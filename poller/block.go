package poller

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// Block is the part of a sources file that belongs to one driver, not yet decoded:
// a carrier's block (carriers.MAEU, whose type key the registry reads) or the block
// named after a driver's kind at the top of the file (demo:).
type Block struct {
	file *sourcesFile
	// path is how encoding/json names the block's keys in type errors: "carriers"
	// (it leaves out map keys), "demo", "breaker", or "" for the whole file.
	path   string
	node   *yaml.Node      // the block, in a YAML file
	raw    json.RawMessage // the block, in a JSON file
	offset int64           // where raw starts in the file
	skip   map[string]bool // keys of the block that are not the driver's ("type")
}

// Decode decodes the block into v, a pointer to a struct whose fields carry yaml and
// json tags (or match by name, as yaml.v3 and encoding/json do), and refuses the keys
// v has no field for. A driver decodes its block once and returns Decode's error as
// it is: the registry then reports every problem found in the file, by line and key,
// the way it reports its own.
func (b Block) Decode(v any) error {
	return b.decode(v, true)
}

// decode decodes the block into v, refusing unknown keys when checkKeys is set, and
// records what it finds in the file's issues.
func (b Block) decode(v any, checkKeys bool) error {
	before := len(b.file.issues)
	if b.node != nil {
		b.decodeYAML(v, checkKeys)
	} else if b.raw != nil {
		b.decodeJSON(v, checkKeys)
	}
	if len(b.file.issues) > before {
		return errors.New(b.file.issues[before].text)
	}
	return nil
}

func (b Block) decodeYAML(v any, checkKeys bool) {
	if checkKeys {
		yamlUnknownKeys(b.node, reflect.TypeOf(v), b.skip, func(line int, key string) {
			b.file.add(issue{pos: int64(line), text: fmt.Sprintf("line %d: unknown key %q", line, key)})
		})
	}
	err := decodeNode(b.node, v)
	var typeErr *yaml.TypeError
	switch {
	case errors.As(err, &typeErr):
		for _, e := range typeErr.Errors {
			b.file.add(issue{pos: int64(lineOf(e, b.node.Line)), text: yamlTypeErrorText(e)})
		}
	case err != nil:
		// An unmarshaler of the target failed (a bad duration): yaml.v3 stops there.
		text := strings.TrimPrefix(err.Error(), "yaml: ")
		b.file.add(issue{pos: int64(lineOf(text, b.node.Line)), abort: true, text: text})
	}
}

func (b Block) decodeJSON(v any, checkKeys bool) {
	if checkKeys {
		if key, at, found := jsonUnknownKey(b.raw, b.offset, reflect.TypeOf(v), b.skip); found {
			b.file.add(issue{pos: at, text: fmt.Sprintf("unknown key %q", key)})
		}
	}
	err := json.Unmarshal(b.raw, v)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		at := b.offset + typeErr.Offset
		field := strings.Trim(b.path+"."+typeErr.Field, ".")
		b.file.add(issue{pos: at, text: fmt.Sprintf("line %d: %s: a JSON %s is not a valid %s",
			lineAt(b.file.data, at), field, typeErr.Value, friendlyType(typeErr.Type.String()))})
	case err != nil:
		// An unmarshaler of the target failed (a bad duration): encoding/json stops
		// there, and its error wins over the problems it had noted before.
		b.file.add(issue{pos: b.offset, abort: true, text: strings.TrimPrefix(err.Error(), "json: ")})
	}
}

// decodeNode is n.Decode(v), except that a panic of yaml.v3 (v3.0.1 panics on a merge
// key next to a key that is a mapping) becomes an error naming the line.
func decodeNode(n *yaml.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("line %d: the YAML decoder failed here: %v", n.Line, r)
		}
	}()
	return n.Decode(v)
}

// Keys returns the keys of the block that are the driver's, in the file's order.
func (b Block) Keys() []string {
	var keys []string
	if n := resolveYAML(b.node); n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; !b.skip[k] {
				keys = append(keys, k)
			}
		}
	}
	for _, m := range jsonMembers(b.raw, b.offset) {
		if !hasFold(b.skip, m.key) {
			keys = append(keys, m.key)
		}
	}
	return keys
}

// Expand replaces each ${NAME} in s with the environment variable NAME, so that
// secrets and deployment-specific values stay out of the file. An unset or empty
// variable is an error. A driver expands the values it chooses (URLs, credentials)
// after Decode, so that a value cannot inject YAML or JSON.
func (b Block) Expand(s string) (string, error) {
	return expandVars(s, b.file.getenv)
}

// typeKey is the key of a carrier's block that names its driver.
type typeKey struct {
	Type string `yaml:"type" json:"type"`
}

// kind reads the block's type key, reporting a value of the wrong type as Decode
// would; ok is false then. The other keys are the driver's to check.
func (b Block) kind() (kind string, ok bool) {
	var k typeKey
	err := b.decode(&k, false)
	return k.Type, err == nil
}
