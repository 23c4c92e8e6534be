package poller

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

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
		top.Carriers[code] = Block{file: f, node: &node, skip: carrierKeys()}
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
				top.Carriers[c.key] = Block{file: f, path: "carriers", raw: c.value, offset: c.offset, skip: carrierKeys()}
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

// pushKeys are the keys of a carrier's block that the registry reads for every
// driver: push and the keys that go with it (see PushConfig).
var pushKeys = []string{"push", "push_poll_interval", "inbound_auth"}

// carrierKeys returns the keys of a carrier's block that are not its driver's: the
// type and the push keys.
func carrierKeys() map[string]bool {
	keys := map[string]bool{"type": true}
	for _, k := range pushKeys {
		keys[k] = true
	}
	return keys
}

// pushBlock is what a carrier's block says about push.
type pushBlock struct {
	Push             bool              `yaml:"push" json:"push"`
	PushPollInterval *ConfigDuration   `yaml:"push_poll_interval" json:"push_poll_interval"`
	InboundAuth      *inboundAuthBlock `yaml:"inbound_auth" json:"inbound_auth"`
}

// inboundAuthBlock is inbound_auth: exactly one of header and bearer.
type inboundAuthBlock struct {
	Header *struct {
		Name  string `yaml:"name" json:"name"`
		Value string `yaml:"value" json:"value"`
	} `yaml:"header" json:"header"`
	Bearer *string `yaml:"bearer" json:"bearer"`
}

// decodePush decodes the push keys of a carrier's block, refusing unknown keys
// inside them (the driver refuses the others), and records its problems with the
// file's.
func (b Block) decodePush() (pushBlock, error) {
	// Decode the block with every key but the push keys set aside, including those a
	// merge key brings in, so that only the push keys are checked.
	pb := b
	pb.skip = map[string]bool{}
	for _, k := range b.allKeys() {
		if !slices.Contains(pushKeys, k) {
			pb.skip[k] = true
		}
	}
	var p pushBlock
	err := pb.Decode(&p)
	return p, err
}

// allKeys returns the keys of the block's mapping, those of the mappings its merge
// keys bring in included, skipped ones too.
func (b Block) allKeys() []string {
	var keys []string
	visits := maxYAMLVisits
	var walk func(n *yaml.Node)
	walk = func(n *yaml.Node) {
		n = resolveYAML(n)
		if n == nil || n.Kind != yaml.MappingNode || visits <= 0 {
			return
		}
		visits--
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				for _, m := range mergedMappings(n.Content[i+1]) {
					walk(m)
				}
				continue
			}
			keys = append(keys, k.Value)
		}
	}
	walk(b.node)
	for _, m := range jsonMembers(b.raw, b.offset) {
		keys = append(keys, m.key)
	}
	return keys
}

// pushConfig checks the push keys p of the block of a carrier whose driver is kind
// and made cfg, and returns its push settings: Model PushNone when it does not push.
// Errors name the key at fault.
func (b Block) pushConfig(p pushBlock, kind string, cfg SourceConfig) (PushConfig, error) {
	if !p.Push {
		switch {
		case p.PushPollInterval != nil:
			return PushConfig{}, errors.New("push_poll_interval: goes with push: true")
		case p.InboundAuth != nil:
			return PushConfig{}, errors.New("inbound_auth: goes with push: true")
		}
		return PushConfig{}, nil
	}
	model := PushNone
	if pusher, ok := cfg.(Pusher); ok {
		model = pusher.PushModel()
	}
	if model == PushNone {
		return PushConfig{}, fmt.Errorf("push: a source of type %s is only polled", kind)
	}
	pc := PushConfig{Model: model, PollInterval: DefaultPushPollInterval}
	if p.PushPollInterval != nil {
		pc.PollInterval = time.Duration(*p.PushPollInterval)
		if pc.PollInterval < MinPushPollInterval {
			return PushConfig{}, fmt.Errorf("push_poll_interval: must be at least %v: it is the safety-net poll of pushed references", MinPushPollInterval)
		}
	}
	switch {
	case model == PushReceiver && p.InboundAuth == nil:
		return PushConfig{}, fmt.Errorf("inbound_auth: is required with push: true for type %s: the carrier's pushes must carry a secret, as a header or a bearer token", kind)
	case model == PushReceiver:
		auth, err := b.inboundAuth(p.InboundAuth)
		if err != nil {
			return PushConfig{}, fmt.Errorf("inbound_auth.%w", err)
		}
		pc.InboundAuth = &auth
	case p.InboundAuth != nil:
		return PushConfig{}, fmt.Errorf("inbound_auth: a source of type %s signs its callbacks with a secret per subscription, and takes no inbound_auth", kind)
	}
	return pc, nil
}

// MinInboundSecret is the shortest inbound_auth secret taken: the secret is all that
// stands between the internet and a reference's events.
const MinInboundSecret = 16

// inboundAuth checks inbound_auth and expands the variables in its secret. Errors
// name the key within inbound_auth ("bearer: ...").
func (b Block) inboundAuth(a *inboundAuthBlock) (InboundAuth, error) {
	var (
		auth InboundAuth
		key  string
		raw  string
	)
	switch {
	case a.Header != nil && a.Bearer != nil:
		return InboundAuth{}, errors.New("header: and bearer exclude each other")
	case a.Header != nil:
		if err := checkHeaderName(a.Header.Name); err != nil {
			return InboundAuth{}, fmt.Errorf("header.name: %w", err)
		}
		auth.Header = http.CanonicalHeaderKey(a.Header.Name)
		key, raw = "header.value", a.Header.Value
	case a.Bearer != nil:
		auth.Header, auth.Scheme = "Authorization", "Bearer"
		key, raw = "bearer", *a.Bearer
	default:
		return InboundAuth{}, errors.New("header: or bearer: is required")
	}
	secret, err := b.Expand(raw)
	switch {
	case err != nil:
		return InboundAuth{}, fmt.Errorf("%s: %w", key, err)
	case secret == "":
		return InboundAuth{}, fmt.Errorf("%s: is required", key)
	case strings.ContainsFunc(secret, func(r rune) bool { return r < ' ' || r == 0x7f }):
		return InboundAuth{}, fmt.Errorf("%s: has a control character or a line break", key)
	case auth.Scheme != "" && strings.ContainsRune(secret, ' '):
		return InboundAuth{}, fmt.Errorf("%s: a bearer token has no spaces", key)
	case len(secret) < MinInboundSecret:
		// The length of the secret may be told: it says little, and helps.
		return InboundAuth{}, fmt.Errorf("%s: is %d characters, use at least %d (a random one, such as from openssl rand -hex 32)", key, len(secret), MinInboundSecret)
	}
	auth.Secret = secret
	return auth, nil
}

// checkHeaderName accepts an HTTP header name (a token) that is not one net/http or a
// proxy manages itself.
func checkHeaderName(name string) error {
	if name == "" {
		return errors.New("is required")
	}
	for _, r := range name {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return fmt.Errorf("%q is not a header name", name)
		}
	}
	switch http.CanonicalHeaderKey(name) {
	case "Host", "Content-Length", "Content-Type", "Content-Encoding", "Transfer-Encoding", "Connection",
		"Te", "Trailer", "Upgrade", "Cookie", "Expect", "Api-Version":
		return fmt.Errorf("%s carries something else than a credential", name)
	}
	return nil
}
