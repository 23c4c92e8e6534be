package poller

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gopkg.in/yaml.v3"
)

// ConfigDuration is a duration in a sources file, written "10s" or "1m30s" in YAML and
// in JSON. Drivers use it in their blocks; it refuses negative durations.
type ConfigDuration time.Duration

// UnmarshalYAML reads a duration string, naming the line of a bad one.
func (d *ConfigDuration) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: a duration is a string such as 10s or 1m30s", node.Line)
	}
	v, err := parseConfigDuration(node.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", node.Line, err)
	}
	*d = v
	return nil
}

// UnmarshalJSON reads a duration string.
func (d *ConfigDuration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration is a string such as "10s" or "1m30s"`)
	}
	v, err := parseConfigDuration(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

func parseConfigDuration(s string) (ConfigDuration, error) {
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration such as 10s or 1m30s", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("%q: a duration must not be negative", s)
	}
	return ConfigDuration(v), nil
}
