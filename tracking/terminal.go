package tracking

import (
	"fmt"
	"strings"
)

// ParseTerminalRule reads a terminal rule from its command-line form: a comma-separated
// list of CODE or CODE:EMPTY / CODE:LADEN, each an actual event that ends tracking once
// the shipment has reached its destination. "GTIN:EMPTY" is the default rule; "" means
// the default too.
func ParseTerminalRule(s string) (TerminalRule, error) {
	if strings.TrimSpace(s) == "" {
		return DefaultTerminalRule(), nil
	}
	var rule TerminalRule
	for _, part := range strings.Split(s, ",") {
		code, empty, _ := strings.Cut(strings.TrimSpace(part), ":")
		code, empty = strings.ToUpper(code), strings.ToUpper(empty)
		if len(code) != 4 || strings.Trim(code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
			return nil, fmt.Errorf("terminal event %q: the code must be 4 letters such as GTIN", part)
		}
		if empty != "" && empty != "EMPTY" && empty != "LADEN" {
			return nil, fmt.Errorf("terminal event %q: after the colon give EMPTY or LADEN", part)
		}
		rule = append(rule, TerminalEvent{Code: code, EmptyIndicator: empty, AfterArrival: true})
	}
	return rule, nil
}

// String writes the rule in the form ParseTerminalRule reads.
func (r TerminalRule) String() string {
	parts := make([]string, len(r))
	for i, t := range r {
		parts[i] = t.Code
		if t.EmptyIndicator != "" {
			parts[i] += ":" + t.EmptyIndicator
		}
	}
	return strings.Join(parts, ",")
}
