package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a configuration file, placed at a line and key.
type Error struct {
	File string
	Line int
	Key  string
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

// LookupEnv is how ${VAR} references are resolved; os.LookupEnv in production.
type LookupEnv func(string) (string, bool)

// Load reads and validates the file at path, expanding ${VAR} from the process environment.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse decodes data (named file in errors) over the defaults and validates the result. Every
// problem found is reported, joined, each naming file, line and key.
func Parse(file string, data []byte, env LookupEnv) (*Config, error) {
	cfg := Default()
	if err := tabs(file, data); err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Error{File: file, Line: syntaxLine(err), Msg: cleanYAMLMessage(err.Error())}
	}
	if len(root.Content) == 0 { // an empty file: every default
		cfg.empty = true
		return &cfg, validate(file, &cfg, newIndex(&root))
	}
	idx := newIndex(&root)
	_, cfg.channelsExplicit = idx.keyLine["notify.channels"]

	// Every problem of the file is reported at once, sorted by line: a key of the wrong type
	// keeps its default, so the rest is still decoded and checked.
	var problems []error
	// Pass one, strict, on the text as written: unknown keys and wrong types, with true lines.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	probe := Default()
	if err := dec.Decode(&probe); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, typeErrors(file, idx, err)
		}
		problems = append(problems, typeErrors(file, idx, err))
	}

	// Pass two: expand ${VAR} in scalar values, then decode the expanded tree over the defaults.
	// Its type errors are pass one's, already counted (or a variable's value, which pass one
	// could not see).
	if err := expand(file, &root, env); err != nil {
		problems = append(problems, err)
	}
	if err := root.Decode(&cfg); err != nil && len(problems) == 0 {
		problems = append(problems, typeErrors(file, idx, err))
	}
	fillChannelDefaults(&cfg)
	if err := validate(file, &cfg, idx); err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, byLine(problems)
	}
	normalize(&cfg)
	return &cfg, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces ${VAR} in every scalar value. An unset variable is an error, not an empty
// string: a missing secret must stop the start, not send unauthenticated requests.
func expand(file string, root *yaml.Node, env LookupEnv) error {
	var errs []error
	walk(root, "", func(n *yaml.Node, path string, _ int) {
		if n.Kind != yaml.ScalarNode {
			return
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			name := envRef.FindStringSubmatch(ref)[1]
			v, ok := env(name)
			if !ok {
				errs = append(errs, &Error{File: file, Line: n.Line, Key: path,
					Msg: fmt.Sprintf("environment variable %s is not set", name)})
			}
			return v
		})
	})
	return errors.Join(errs...)
}

// walk visits every node below n with its dotted key ("notify.channels[0].name") and the line
// the key stands on.
func walk(n *yaml.Node, path string, visit func(n *yaml.Node, path string, line int)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walk(c, path, visit)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := join(path, n.Content[i].Value)
			visit(n.Content[i+1], k, n.Content[i].Line)
			walk(n.Content[i+1], k, visit)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			k := fmt.Sprintf("%s[%d]", path, i)
			visit(c, k, c.Line)
			walk(c, k, visit)
		}
	}
}

// index maps the file's lines to dotted keys and back, so that every error can be placed.
type index struct {
	lineKey map[int]string
	keyLine map[string]int
}

func newIndex(root *yaml.Node) *index {
	idx := &index{lineKey: map[int]string{}, keyLine: map[string]int{}}
	walk(root, "", func(_ *yaml.Node, path string, line int) { idx.add(line, path) })
	return idx
}

func (x *index) add(line int, key string) {
	if _, ok := x.lineKey[line]; !ok {
		x.lineKey[line] = key
	}
	x.keyLine[key] = line
}

// line is where key (or its nearest written parent) stands; 0 when nothing of it is written.
func (x *index) line(key string) int {
	for k := key; k != ""; {
		if l, ok := x.keyLine[k]; ok {
			return l
		}
		i := strings.LastIndexAny(k, ".[")
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return 0
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

var (
	linePrefix   = regexp.MustCompile(`^line (\d+): (.*)$`)
	unknownField = regexp.MustCompile(`^field (\S+) not found in type .*$`)
)

// typeErrors turns yaml.v3's "line N: ..." messages into Errors that also name the key.
func typeErrors(file string, idx *index, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &Error{File: file, Line: syntaxLine(err), Msg: cleanYAMLMessage(err.Error())}
	}
	errs := make([]error, 0, len(te.Errors))
	for _, msg := range te.Errors {
		e := &Error{File: file, Msg: msg}
		if m := linePrefix.FindStringSubmatch(msg); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			e.Key = idx.lineKey[e.Line]
			e.Msg = plainWords(m[2])
			if u := unknownField.FindStringSubmatch(e.Msg); u != nil {
				e.Msg = fmt.Sprintf("unknown key %q", u[1])
			}
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

var syntaxLineRe = regexp.MustCompile(`line (\d+)`)

func syntaxLine(err error) int {
	if m := syntaxLineRe.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func cleanYAMLMessage(s string) string {
	s = strings.TrimPrefix(s, "yaml: ")
	if m := linePrefix.FindStringSubmatch(s); m != nil {
		return m[2]
	}
	return s
}

// byLine flattens joined errors and sorts them by line, the order a person fixes them in.
func byLine(errs []error) error {
	var flat []error
	var add func(error)
	add = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				add(e)
			}
			return
		}
		flat = append(flat, err)
	}
	for _, err := range errs {
		add(err)
	}
	line := func(err error) int {
		var e *Error
		if errors.As(err, &e) {
			return e.Line
		}
		return 0
	}
	slices.SortStableFunc(flat, func(a, b error) int { return cmp.Compare(line(a), line(b)) })
	return errors.Join(flat...)
}

// tabs refuses a tab in a line's indentation, by line: YAML's own message for it ("found
// character that cannot start any token") does not say what is wrong.
func tabs(file string, data []byte) error {
	var errs []error
	for i, l := range strings.Split(string(data), "\n") {
		indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if strings.Contains(indent, "\t") && strings.TrimSpace(l) != "" {
			errs = append(errs, &Error{File: file, Line: i + 1, Msg: "a tab in the indentation: YAML indents with spaces only"})
		}
	}
	return errors.Join(errs...)
}

var yamlType = regexp.MustCompile("^cannot unmarshal !!(\\w+) (?:`(.*)` )?into (.+)$")

// plainWords says a YAML type error as a person would, without Go's type names: "`lots` is not a
// whole number" rather than "cannot unmarshal !!str `lots` into int".
func plainWords(msg string) string {
	m := yamlType.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	got := map[string]string{"seq": "a list", "map": "a mapping (key: value lines)"}[m[1]]
	if got == "" {
		got = "`" + m[2] + "`"
	}
	target := m[3]
	var want string
	switch {
	case target == "time.Duration":
		want = "a duration such as 90s, 10m or 72h"
	case strings.HasPrefix(target, "int") || strings.HasPrefix(target, "uint"):
		want = "a whole number"
	case strings.HasPrefix(target, "float"):
		want = "a number"
	case target == "bool":
		want = "true or false"
	case target == "string":
		want = "a single value"
	case strings.HasPrefix(target, "[]"):
		want = "a list"
	default:
		want = "a mapping (key: value lines)"
	}
	return got + " is not " + want
}
