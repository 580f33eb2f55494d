package config

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"reflect"
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
		return nil, yamlError(file, err)
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
	// Pass one, on the tree as written: unknown keys and wrong kinds, with true lines. A key of
	// the wrong kind keeps its default in pass two, where Decode skips what it cannot set.
	problems = append(problems, shapeErrors(file, &root, reflect.TypeFor[Config]())...)

	// Pass two: expand ${VAR} in scalar values, then decode the expanded tree over the defaults.
	// What it cannot decode is pass one's, already counted, or a variable's value, which pass one
	// could not see: the expanded tree is checked again for those.
	if err := expand(file, &root, env); err != nil {
		problems = append(problems, err)
	}
	if err := root.Decode(&cfg); err != nil && len(problems) == 0 {
		expanded := shapeErrors(file, &root, reflect.TypeFor[Config]())
		if len(expanded) == 0 { // the decoder saw a problem the shape did not: say it as it is
			expanded = []error{yamlError(file, err)}
		}
		problems = append(problems, expanded...)
	}
	fillChannelDefaults(&cfg)
	haDefaults(&cfg.HA)
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

// yamlLine is yaml.v3's "yaml: line N: " before a syntax error: the one place its text is read,
// because a file that does not parse has no tree, and v3 has no structured error for it (v4's
// ParserError has, once v4 is released). TestParseErrorsNameFileLineAndKey pins the form: a
// release that words it otherwise fails that test, not a user's config check.
var yamlLine = regexp.MustCompile(`(?s)^(?:yaml: )?(?:line (\d+): )?(.*)$`)

// yamlError places a YAML error that has no tree: at its line when the text gives one.
func yamlError(file string, err error) *Error {
	m := yamlLine.FindStringSubmatch(err.Error())
	line, _ := strconv.Atoi(m[1])
	return &Error{File: file, Line: line, Msg: m[2]}
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
