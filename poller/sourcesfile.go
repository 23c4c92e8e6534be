package poller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxSourcesFile bounds the file read: a real one is a few kilobytes.
const maxSourcesFile = 1 << 20

// readSourcesFile reads the file at path, YAML or JSON by its extension, else by its
// first character.
func readSourcesFile(path string) (data []byte, format string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fmt.Errorf("sources file: %w", err)
	}
	defer f.Close()
	data, err = io.ReadAll(io.LimitReader(f, maxSourcesFile+1))
	if err != nil {
		return nil, "", fmt.Errorf("sources file: %w", err)
	}
	if len(data) > maxSourcesFile {
		return nil, "", fmt.Errorf("sources file %s: larger than %d bytes", path, maxSourcesFile)
	}
	return data, sourcesFormat(path, data), nil
}

// sourcesFormat returns "json" or "yaml".
func sourcesFormat(path string, data []byte) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return "json"
	case ".yaml", ".yml":
		return "yaml"
	}
	if trimmed := bytes.TrimSpace(data); len(trimmed) > 0 && trimmed[0] == '{' {
		return "json"
	}
	return "yaml"
}

// sourcesFile is a sources file being decoded, and the problems found in it so far.
type sourcesFile struct {
	format string // "json" or "yaml"
	data   []byte
	getenv func(string) string
	more   func() bool // whether something follows the first YAML document or JSON value
	issues []issue
}

// fileTop is what the top of a sources file holds, with the drivers' blocks still
// undecoded.
type fileTop struct {
	Default  string
	Breaker  *Block
	Settings map[string]Block // the blocks named after a kind, by kind
	Carriers map[string]Block // by carrier code
}

// breakerBlock is the breaker key of a sources file: the circuit breaker that guards
// every source.
type breakerBlock struct {
	Failures uint32         `yaml:"failures" json:"failures"`
	OpenFor  ConfigDuration `yaml:"open_for" json:"open_for"`
}

// top decodes the top of the file; kinds are the keys of the drivers' own blocks
// there. Syntax errors are returned, other problems noted as issues.
func (f *sourcesFile) top(kinds map[string]bool) (*fileTop, error) {
	if f.format == "json" {
		return f.topJSON(kinds)
	}
	return f.topYAML(kinds)
}

// yamlTop and jsonTop are the keys of the top of the file besides the drivers' own.
// Their names show in errors about a file that is not a mapping ("a list is not a
// valid mapping"), as friendlyType reads them.
type (
	yamlTop struct {
		Default  string               `yaml:"default"`
		Carriers map[string]yaml.Node `yaml:"carriers"`
		Breaker  yaml.Node            `yaml:"breaker"` // Kind 0 when absent
	}
	jsonTop struct {
		Default  string                     `json:"default"`
		Carriers map[string]json.RawMessage `json:"carriers"`
		Breaker  json.RawMessage            `json:"breaker"`
	}
)

func (f *sourcesFile) topYAML(kinds map[string]bool) (*fileTop, error) {
	dec := yaml.NewDecoder(bytes.NewReader(f.data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		return nil, f.yamlSyntaxError(err)
	}
	f.more = func() bool {
		var next yaml.Node
		return !errors.Is(dec.Decode(&next), io.EOF)
	}
	var raw yamlTop
	root := Block{file: f, node: &doc, skip: kinds}
	root.Decode(&raw)
	top := &fileTop{Default: raw.Default, Settings: map[string]Block{}, Carriers: map[string]Block{}}
	if raw.Breaker.Kind != 0 {
		top.Breaker = &Block{file: f, node: &raw.Breaker}
	}
	if n := resolveYAML(&doc); n != nil && n.Kind == yaml.MappingNode && !hasDuplicateKeys(n) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if k := n.Content[i].Value; kinds[k] {
				top.Settings[k] = Block{file: f, node: n.Content[i+1]}
			}
		}
	}
	for code, node := range raw.Carriers {
		top.Carriers[code] = Block{file: f, node: &node, skip: map[string]bool{"type": true}}
	}
	return top, nil
}

func (f *sourcesFile) topJSON(kinds map[string]bool) (*fileTop, error) {
	dec := json.NewDecoder(bytes.NewReader(f.data))
	var doc json.RawMessage
	if err := dec.Decode(&doc); err != nil {
		return nil, oneLine(jsonSyntaxErrorText(err, f.data))
	}
	f.more = func() bool {
		_, err := dec.Token()
		return err != io.EOF
	}
	var raw jsonTop
	offset := dec.InputOffset() - int64(len(doc))
	root := Block{file: f, raw: doc, offset: offset, skip: kinds}
	root.Decode(&raw)
	top := &fileTop{Default: raw.Default, Settings: map[string]Block{}, Carriers: map[string]Block{}}
	// encoding/json matches keys without regard to case, and the last of equal keys
	// wins: so do these.
	for _, m := range jsonMembers(doc, offset) {
		switch {
		case strings.EqualFold(m.key, "breaker"):
			top.Breaker = &Block{file: f, path: "breaker", raw: m.value, offset: m.offset}
		case strings.EqualFold(m.key, "carriers"):
			for _, c := range jsonMembers(m.value, m.offset) {
				top.Carriers[c.key] = Block{file: f, path: "carriers", raw: c.value, offset: c.offset, skip: map[string]bool{"type": true}}
			}
		case hasFold(kinds, m.key):
			for kind := range kinds {
				if strings.EqualFold(kind, m.key) {
					top.Settings[kind] = Block{file: f, path: kind, raw: m.value, offset: m.offset}
				}
			}
		}
	}
	return top, nil
}

// trailing reports what follows the first YAML document or JSON value, which a
// sources file must not have.
func (f *sourcesFile) trailing() error {
	if !f.more() {
		return nil
	}
	if f.format == "json" {
		return errors.New("data after the JSON object")
	}
	return errors.New("more than one YAML document")
}
