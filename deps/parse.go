package deps

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	yaml "go.yaml.in/yaml/v3"

	"github.com/dueq/dueq/tasks"
)

// document is the wire form of a workflow. Nodes stay raw so that
// each is decoded alone and its errors can name it.
type document struct {
	Nodes []json.RawMessage `json:"nodes"`
}

// nodeDoc is one node of a document. Durations are Go durations ("5s"), at
// is RFC 3339; empty fields take tasks.Spec's defaults.
type nodeDoc struct {
	Name            string          `json:"name"`
	Task            string          `json:"task"`
	Args            json.RawMessage `json:"args"`
	After           []string        `json:"after"`
	In              string          `json:"in"`
	At              string          `json:"at"`
	Queue           string          `json:"queue"`
	MaxAttempts     int             `json:"max_attempts"`
	Timeout         string          `json:"timeout"`
	OnParentFailure string          `json:"on_parent_failure"`
}

// nodeFields lists nodeDoc's fields, for error messages.
var nodeFields = func() string {
	t := reflect.TypeFor[nodeDoc]()
	names := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		names = append(names, t.Field(i).Tag.Get("json"))
	}
	return strings.Join(names, ", ")
}()

// Parse reads a workflow document, JSON or YAML, and validates it (see
// Workflow.Validate):
//
//	{"nodes": [{"name": "a", "task": "echo", "args": {"x": 1}},
//	           {"name": "b", "task": "echo", "after": ["a"], "in": "5s",
//	            "queue": "q", "max_attempts": 3, "timeout": "30s",
//	            "on_parent_failure": "run"}]}
//
// A node's fields are name, task (the handler), args (any value; YAML args
// become JSON), after (names of other nodes), in or at (a Go duration, an
// RFC 3339 time), queue, max_attempts, timeout (a Go duration) and
// on_parent_failure (fail, run or skip). Unknown fields are errors. Both
// formats go through one strict path: YAML is decoded, re-encoded as JSON,
// then read like a JSON document. Every error wraps tasks.ErrInvalid and
// names the node and field at fault; Parse never panics.
func Parse(data []byte) (w *Workflow, err error) {
	defer func() {
		if r := recover(); r != nil {
			w, err = nil, invalidf("the document cannot be read (%v): write it as in %s", r, exampleDoc)
		}
	}()
	if !utf8.Valid(data) { // decoding would turn it into other text than was sent
		return nil, invalidf("the document holds invalid UTF-8 at byte %d: write it in UTF-8", tasks.InvalidUTF8At(data))
	}
	js, err := toJSON(data)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	var doc document
	if err := dec.Decode(&doc); err != nil {
		return nil, documentError(err)
	}
	if len(doc.Nodes) > MaxNodes {
		return nil, invalidf("the workflow has %d nodes, more than the limit of %d: split it into smaller workflows", len(doc.Nodes), MaxNodes)
	}
	w = &Workflow{Nodes: make([]Node, 0, len(doc.Nodes))}
	for i, raw := range doc.Nodes {
		n, err := parseNode(i, raw)
		if err != nil {
			return nil, err
		}
		w.Nodes = append(w.Nodes, n)
	}
	if err := w.Validate(); err != nil {
		return nil, err
	}
	return w, nil
}

// parseNode decodes node i of a document strictly into a Node.
func parseNode(i int, raw json.RawMessage) (Node, error) {
	at := label(i, raw)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var d nodeDoc
	if err := dec.Decode(&d); err != nil {
		return Node{}, nodeError(at, err)
	}
	spec := tasks.Spec{
		Name:            d.Task,
		Queue:           d.Queue,
		MaxAttempts:     d.MaxAttempts,
		OnParentFailure: tasks.Policy(d.OnParentFailure),
	}
	if a := bytes.TrimSpace(d.Args); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		var buf bytes.Buffer
		if err := json.Compact(&buf, a); err != nil {
			return Node{}, invalidf("%s: args: %v", at, err) // cannot happen: the document is valid JSON
		}
		spec.Args = buf.Bytes()
	}
	var err error
	if spec.In, err = duration(at, "in", d.In); err != nil {
		return Node{}, err
	}
	if spec.Timeout, err = duration(at, "timeout", d.Timeout); err != nil {
		return Node{}, err
	}
	if d.At != "" {
		if d.In != "" {
			return Node{}, invalidf("%s: in and at both given: use one of them", at)
		}
		if spec.At, err = tasks.ParseAt(d.At); err != nil {
			return Node{}, invalidf("%s: at %v", at, err)
		}
	}
	return Node{Name: d.Name, Spec: spec, After: d.After}, nil
}

// label names node i in error messages: "node NAME" when it has a valid
// name, else "nodes[i]".
func label(i int, raw json.RawMessage) string {
	var n struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(raw, &n) == nil && ValidName(n.Name) {
		return "node " + n.Name
	}
	return fmt.Sprintf("nodes[%d]", i)
}

// duration reads a non-negative Go duration; "" is zero.
func duration(at, field, s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, invalidf("%s: %s %.60q is not a duration: write it like 30s, 5m or 1h30m", at, field, s)
	}
	if d < 0 {
		return 0, invalidf("%s: %s %s is negative: give 0 or more", at, field, s)
	}
	return d, nil
}

// documentError explains an error decoding the document's top level.
func documentError(err error) error {
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ) && typ.Field == "":
		return invalidf("the document is %s: it must be a mapping with a list of nodes, e.g. %s", kind(typ.Value), exampleDoc)
	case errors.As(err, &typ):
		return invalidf("nodes is %s: it must be a list of nodes, e.g. %s", kind(typ.Value), exampleDoc)
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalidf("unknown field %s at the top of the document: it holds only nodes, e.g. %s", field, exampleDoc)
	}
	return invalidf("the document cannot be read: %v", err)
}

// nodeError explains an error decoding one node.
func nodeError(at string, err error) error {
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typ) && typ.Field == "":
		return invalidf("%s is %s: each node must be a mapping such as {\"name\": \"a\", \"task\": \"echo\"}", at, kind(typ.Value))
	case errors.As(err, &typ):
		field, _, _ := strings.Cut(typ.Field, ".")
		return invalidf("%s: %s must be %s, not %s", at, field, fieldKind(field), kind(typ.Value))
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return invalidf("%s: unknown field %s: the fields are %s", at, field, nodeFields)
	}
	return invalidf("%s cannot be read: %v", at, err)
}

// fieldKind says what a node's field must hold.
func fieldKind(field string) string {
	switch field {
	case "max_attempts":
		return "a whole number"
	case "after":
		return "a list of node names"
	}
	return "a string"
}

// kind names a JSON value kind as json.UnmarshalTypeError.Value gives it,
// in words that fit YAML too.
func kind(v string) string {
	switch {
	case v == "object":
		return "a mapping"
	case v == "array":
		return "a list"
	case v == "bool":
		return "true or false"
	case strings.HasPrefix(v, "number"):
		return "a number"
	case v == "string":
		return "a string"
	}
	return v
}

// toJSON returns the document as JSON: as is when it is JSON, else
// decoded as YAML and re-encoded.
func toJSON(data []byte) ([]byte, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, invalidf("the document is empty: write it as in %s", exampleDoc)
	}
	if (trimmed[0] == '{' || trimmed[0] == '[') && json.Valid(trimmed) {
		return trimmed, nil
	}
	v, err := decodeYAML(data)
	if err != nil {
		if trimmed[0] == '{' || trimmed[0] == '[' { // most likely meant as JSON
			jerr := json.Unmarshal(trimmed, new(any))
			return nil, invalidf("the document is neither JSON (%v) nor YAML (%v)", jerr, err)
		}
		return nil, invalidf("the document is not valid YAML: %v", err)
	}
	if v == nil {
		return nil, invalidf("the document is empty: write it as in %s", exampleDoc)
	}
	v, err = jsonValue(v, "")
	if err != nil {
		return nil, err
	}
	js, err := json.Marshal(v)
	if err != nil {
		return nil, invalidf("the document cannot be written as JSON: %v", err)
	}
	return js, nil
}

// decodeYAML decodes one YAML document into generic values. Timestamps
// stay the text they were written as, so "2030-01-02" reaches a handler's
// args as that string. A second, non-empty document is an error.
func decodeYAML(data []byte) (any, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == io.EOF:
	case err != nil:
		return nil, err
	case !emptyYAML(&next):
		return nil, errors.New("the file holds more than one document (---): put every node in one document")
	}
	timestampsAsText(&root)
	var v any
	if err := root.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// emptyYAML reports whether a decoded YAML document holds nothing.
func emptyYAML(n *yaml.Node) bool {
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	return n.Kind == 0 || (n.Kind == yaml.DocumentNode && len(n.Content) == 0) ||
		(n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" && n.Value == "")
}

// timestampsAsText retags timestamp scalars as strings. It does not follow
// aliases: their targets are in the tree too.
func timestampsAsText(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!timestamp" {
		n.Tag = "!!str"
	}
	for _, c := range n.Content {
		timestampsAsText(c)
	}
}

// jsonValue converts a value decoded from YAML into one encoding/json can
// write: mappings get string keys, and numbers must be finite. path says
// where v is, for errors.
func jsonValue(v any, path string) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			var err error
			if v[k], err = jsonValue(e, join(path, k)); err != nil {
				return nil, err
			}
		}
		return v, nil
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			var key string
			switch k := k.(type) {
			case string:
				key = k
			case int, int64, uint64, float64, bool:
				key = fmt.Sprint(k)
			default:
				return nil, invalidf("%s: a mapping key is %s: write keys as strings", orTop(path), yamlKind(k))
			}
			if _, dup := m[key]; dup {
				return nil, invalidf("%s: key %q appears twice", orTop(path), key)
			}
			var err error
			if m[key], err = jsonValue(e, join(path, key)); err != nil {
				return nil, err
			}
		}
		return m, nil
	case []any:
		for i, e := range v {
			var err error
			if v[i], err = jsonValue(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return nil, err
			}
		}
		return v, nil
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, invalidf("%s: %v is not a number JSON can hold", orTop(path), v)
		}
	case time.Time: // an explicit !!timestamp tag
		return v.Format(time.RFC3339Nano), nil
	case string: // a !!binary value may be any bytes: JSON would turn them into other text
		if !utf8.ValidString(v) {
			return nil, invalidf("%s: the value is not UTF-8 text (a !!binary value?): write text", orTop(path))
		}
	}
	return v, nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orTop(path string) string {
	if path == "" {
		return "the document"
	}
	return path
}

func yamlKind(v any) string {
	if v == nil {
		return "null"
	}
	switch reflect.TypeOf(v).Kind() {
	case reflect.Map:
		return "a mapping"
	case reflect.Slice:
		return "a list"
	}
	return fmt.Sprintf("of type %T", v)
}
