package poller

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expandVars replaces each ${NAME} in s with getenv(NAME). An unset or empty variable
// is an error: a source polled with an empty API key only collects 401s. A "$" not
// followed by "{" is kept as it is.
func expandVars(s string, getenv func(string) string) (string, error) {
	var b strings.Builder
	for {
		start := strings.Index(s, "${")
		if start < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		end := strings.IndexByte(s[start:], '}')
		if end < 0 {
			return "", errors.New(`"${" without a closing "}"`)
		}
		name := s[start+2 : start+end]
		if !envVarName.MatchString(name) {
			return "", fmt.Errorf("${%s}: not an environment variable name", name)
		}
		value := getenv(name)
		if value == "" {
			return "", fmt.Errorf("environment variable %s is not set", name)
		}
		b.WriteString(s[:start])
		b.WriteString(value)
		s = s[start+end+1:]
	}
}
