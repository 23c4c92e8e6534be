package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/trackhook/trackhook/references"
)

// decodeJSON reads the request body as one JSON object into v. It answers 415 for a
// Content-Type that is not JSON (a missing one is accepted, as curl users often omit
// it), 413 over the body limit and 400 for anything that is not exactly one object of
// known fields with the right types. An empty body is allowed only when allowEmpty.
func decodeJSON(c echo.Context, v any, allowEmpty bool) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			return references.Errorf(codeUnsupportedMediaType, "Content-Type must be application/json")
		}
	}
	body, err := io.ReadAll(req.Body)
	if err != nil {
		var maxErr *http.MaxBytesError
		if errors.As(err, &maxErr) {
			return tooLarge(maxErr.Limit)
		}
		return badRequest("", "could not read the request body")
	}
	return parseJSON(body, v, allowEmpty)
}

// parseJSON is the HTTP-free part of decodeJSON.
func parseJSON(body []byte, v any, allowEmpty bool) error {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		if allowEmpty {
			return nil
		}
		return badRequest("", "the request body is empty; send a JSON object")
	}
	// JSON text is UTF-8 (RFC 8259); the decoder would quietly turn invalid bytes
	// into U+FFFD and store something the client never sent.
	if !utf8.Valid(body) {
		return badRequest("", "the request body is not valid UTF-8")
	}
	if trimmed[0] != '{' {
		// Also refuses a bare null, which would decode into nothing without complaint.
		return badRequest("", "the request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return describeJSONError(err, v)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest("", "unexpected data after the JSON object")
	}
	return nil
}

// describeJSONError words a decoding error for the API user, naming the field at fault
// when there is one. v is what was being decoded into.
func describeJSONError(err error, v any) error {
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	var domain *references.Error
	switch {
	case errors.As(err, &syntaxErr):
		return badRequest("", fmt.Sprintf("malformed JSON at byte %d: %s", syntaxErr.Offset, syntaxErr.Error()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: the body ends before the object is complete")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequest("", "the request body must be a JSON object")
		}
		// encoding/json names a map, not the key, when a map value has the wrong type.
		if ft := fieldType(v, typeErr.Field); ft != nil && ft.Kind() == reflect.Map && ft.Elem() == typeErr.Type {
			return badRequest(typeErr.Field, fmt.Sprintf("each value in %s must be %s, not a JSON %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value))
		}
		return badRequest(typeErr.Field, fmt.Sprintf("%s must be %s, not a JSON %s", typeErr.Field, jsonKind(typeErr.Type), typeErr.Value))
	case errors.As(err, &domain):
		return domain
	}
	// encoding/json has no type for this one; its text is `json: unknown field "name"`.
	if rest, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if name, uerr := strconv.Unquote(rest); uerr == nil {
			return badRequest(name, fmt.Sprintf("unknown field %q", name))
		}
	}
	return badRequest("", "invalid request body: "+err.Error())
}

// fieldType returns the type of the field of struct *v whose JSON name is name, or nil.
// A dotted name ("filter.metadata", as encoding/json names a nested field) is followed
// through nested structs and pointers to them.
func fieldType(v any, name string) reflect.Type {
	t := reflect.TypeOf(v)
	if t == nil || t.Kind() != reflect.Pointer {
		return nil
	}
	for part := range strings.SplitSeq(name, ".") {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return nil
		}
		t = structField(t, part)
		if t == nil {
			return nil
		}
	}
	return t
}

// structField returns the type of the field of struct type t whose JSON name is name,
// or nil.
func structField(t reflect.Type, name string) reflect.Type {
	for i := 0; i < t.NumField(); i++ {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); tag == name {
			return t.Field(i).Type
		}
	}
	return nil
}

// jsonKind names what JSON a Go type is decoded from, for error messages.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "a different type"
	}
	switch t.Kind() {
	case reflect.Pointer:
		return jsonKind(t.Elem())
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.String {
			return "an array of strings"
		}
		return "an array"
	case reflect.Map:
		if t.Elem().Kind() == reflect.String {
			return "an object with string values"
		}
		return "an object"
	case reflect.Struct:
		return "an object"
	}
	return "a different type"
}

func badRequest(field, message string) *references.Error {
	return &references.Error{Code: codeBadRequest, Field: field, Message: message}
}

func tooLarge(limit int64) *references.Error {
	return references.Errorf(codeTooLarge, "the request body is over the limit of %d bytes", limit)
}
