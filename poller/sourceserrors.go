package poller

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// The errors of a sources file are one line, name the line and the key at fault, and
// speak of keys, values and mappings rather than of Go types.

// issue is a problem met decoding the file.
type issue struct {
	pos   int64 // where: a line of a YAML file, a byte offset in a JSON file
	abort bool  // an unmarshaler failed: the decoder would have stopped there
	text  string
}

func (f *sourcesFile) add(is issue) { f.issues = append(f.issues, is) }

// decodeError returns the problems found decoding the file as the decoder would have
// reported the whole file in one pass: the first failed unmarshaler alone, else every
// problem in the order of the file for YAML, the first one for JSON. nil when there
// were none.
func (f *sourcesFile) decodeError() error {
	if len(f.issues) == 0 {
		return nil
	}
	issues := slices.Clone(f.issues)
	slices.SortStableFunc(issues, func(a, b issue) int { return cmp.Compare(a.pos, b.pos) })
	if i := slices.IndexFunc(issues, func(is issue) bool { return is.abort }); i >= 0 {
		return oneLine(issues[i].text)
	}
	if f.format == "json" {
		return oneLine(issues[0].text)
	}
	texts := make([]string, len(issues))
	for i, is := range issues {
		texts[i] = is.text
	}
	return oneLine(strings.Join(texts, "; "))
}

// oneLine keeps an error one line: the file's own text can end up in it.
func oneLine(s string) error { return errors.New(strings.Join(strings.Fields(s), " ")) }

// yamlSyntaxError rewrites an error of yaml.v3's parser for a person editing the file.
func (f *sourcesFile) yamlSyntaxError(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("the file is empty")
	}
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if bytes.Contains(f.data, []byte("${")) && strings.Contains(msg, "did not find expected") {
		msg += ` (inside { } write "${NAME}" in quotes)`
	}
	return oneLine(msg)
}

// jsonSyntaxErrorText rewrites encoding/json's syntax errors for a person editing the
// file.
func jsonSyntaxErrorText(err error, data []byte) string {
	var syntax *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return "the file is empty"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON ends too early"
	case errors.As(err, &syntax):
		return fmt.Sprintf("line %d: %s", lineAt(data, syntax.Offset), strings.TrimPrefix(syntax.Error(), "json: "))
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

func lineAt(data []byte, offset int64) int {
	offset = min(max(offset, 0), int64(len(data)))
	return bytes.Count(data[:offset], []byte("\n")) + 1
}

var (
	yamlLine      = regexp.MustCompile(`^line (\d+):`)
	yamlWrongType = regexp.MustCompile("(?s)cannot unmarshal !!(\\w+)(?: `(.*)`)? into (\\S+)")
)

// lineOf returns the line a yaml.v3 message starts with, or def.
func lineOf(msg string, def int) int {
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			return n
		}
	}
	return def
}

// yamlTypeErrorText rewrites one of yaml.v3's type errors, which can span lines and
// name Go types, into one line about keys and values.
func yamlTypeErrorText(e string) string {
	m := yamlWrongType.FindStringSubmatch(e)
	if m == nil {
		return e
	}
	value := m[2]
	if value == "" {
		value = map[string]string{"seq": "a list", "map": "a mapping"}[m[1]]
	} else {
		value = fmt.Sprintf("%q", value)
	}
	return strings.Replace(e, m[0], fmt.Sprintf("%s is not a valid %s", value, friendlyType(m[3])), 1)
}

// friendlyType names a Go type the way a sources file thinks of it. A type named
// after its package (dcsa.carrierBlock) is a struct, hence a mapping.
func friendlyType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "float"):
		return "number"
	case strings.HasPrefix(goType, "uint"):
		return "whole number, 0 or more"
	case strings.HasPrefix(goType, "int"):
		return "whole number"
	case strings.HasPrefix(goType, "map["):
		return "mapping"
	case strings.HasPrefix(goType, "[]"):
		return "list"
	case strings.Contains(goType, "."):
		return "mapping"
	default:
		return goType
	}
}
