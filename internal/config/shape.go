package config

import (
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// shapeErrors checks the YAML tree against the Go type it will be decoded into, before it is:
// every unknown key and every value of the wrong kind, placed by the node it stands at and said
// in plain words. yaml.v3 reports the same problems only as text (its TypeError is a list of
// strings), which its next release may word differently; the tree has the positions and the Go
// type has the kinds, so nothing here reads the library's words. Scalars are still decoded by the
// library, one at a time, so what it accepts (a quoted number into a string, 72h into a duration)
// is exactly what Decode will.
func shapeErrors(file string, root *yaml.Node, t reflect.Type) []error {
	s := &shape{file: file}
	s.check(root, t, "")
	return s.errs
}

type shape struct {
	file string
	errs []error
}

var durationType = reflect.TypeFor[time.Duration]()

func (s *shape) check(n *yaml.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case n.Kind == yaml.DocumentNode:
		for _, c := range n.Content {
			s.check(c, t, path)
		}
	case n.Kind == yaml.AliasNode:
		s.check(n.Alias, t, path)
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null":
		// null leaves the default in place, as Decode does.
	case t.Kind() == reflect.Struct && t != durationType:
		s.mapping(n, t, path)
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			s.wrong(n, t, path)
			return
		}
		seen := map[string]int{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !s.once(n.Content[i], path, seen) {
				continue
			}
			s.check(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value))
		}
	case t.Kind() == reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			s.wrong(n, t, path)
			return
		}
		for i, c := range n.Content {
			s.check(c, t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
	case t == durationType && n.Kind == yaml.ScalarNode:
		normalizeDuration(n)
		if n.Decode(reflect.New(t).Interface()) != nil {
			s.wrong(n, t, path)
		}
	case n.Kind != yaml.ScalarNode || n.Decode(reflect.New(t).Interface()) != nil:
		s.wrong(n, t, path)
	}
}

// normalizeDuration rewrites a duration the command line accepts (Prometheus's model.Duration:
// 30d, 1w, 1d12h) as Go writes it, so that the decoder, which reads only Go's form, takes it: a
// config file and a flag read durations alike. Go's own forms (1.5h, 90s) are left as they are.
func normalizeDuration(n *yaml.Node) {
	if _, err := time.ParseDuration(n.Value); err == nil {
		return
	}
	if d, err := model.ParseDuration(n.Value); err == nil {
		n.Value = time.Duration(d).String()
	}
}

// mapping checks a struct's keys: each must be one of its fields.
func (s *shape) mapping(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind != yaml.MappingNode {
		s.wrong(n, t, path)
		return
	}
	fields := yamlFields(t)
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !s.once(k, path, seen) {
			continue
		}
		f, ok := fields[k.Value]
		if !ok {
			s.errs = append(s.errs, &Error{File: s.file, Line: k.Line, Key: join(path, k.Value),
				Msg: fmt.Sprintf("unknown key %q", k.Value)})
			continue
		}
		s.check(v, f, join(path, k.Value))
	}
}

// once reports whether key k is new to its mapping, and reports it when it is not: YAML forbids
// a key twice, and which of the two would win is not for the reader to guess.
func (s *shape) once(k *yaml.Node, path string, seen map[string]int) bool {
	if first, ok := seen[k.Value]; ok {
		s.errs = append(s.errs, &Error{File: s.file, Line: k.Line, Key: join(path, k.Value),
			Msg: fmt.Sprintf("mapping key %q already defined at line %d", k.Value, first)})
		return false
	}
	seen[k.Value] = k.Line
	return true
}

// wrong reports a value at path that cannot be t.
func (s *shape) wrong(n *yaml.Node, t reflect.Type, path string) {
	s.errs = append(s.errs, &Error{File: s.file, Line: n.Line, Key: path,
		Msg: written(n) + " is not " + wanted(t)})
}

// yamlFields maps the keys a struct accepts to their types, as yaml.v3 names them: the tag's
// name, or the field's name in lower case.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch name {
		case "-":
			continue
		case "":
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// written says what a node is, as a person reads the file.
func written(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "a list"
	case yaml.MappingNode:
		return "a mapping (key: value lines)"
	}
	return "`" + n.Value + "`"
}

// wanted says what a Go type accepts, without Go's type names.
func wanted(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration such as 90s, 10m, 72h or 30d"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() == reflect.String:
		return "a single value"
	case t.Kind() == reflect.Slice:
		return "a list"
	}
	return "a mapping (key: value lines)"
}
