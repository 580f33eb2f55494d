package main

import (
	"fmt"
	"io"
	"strings"
	"unicode"
)

// terminalWidth is what the default tables fit; -o wide prints every column on one line.
const terminalWidth = 120

// wrapped writes text after prefix, broken at spaces so that no line passes terminalWidth, the
// lines after the first indented under it. A word longer than a line (an ARM id) stands on a line
// of its own, whole, so it can still be copied.
func wrapped(w io.Writer, prefix, text string) {
	indent := strings.Repeat(" ", len(prefix))
	line := prefix
	empty := true
	for _, word := range strings.Fields(text) {
		word = printable(word)
		if !empty && len(line)+1+len(word) > terminalWidth {
			fmt.Fprintln(w, line)
			line, empty = indent, true
		}
		if !empty {
			line += " "
		}
		line += word
		empty = false
	}
	fmt.Fprintln(w, line)
}

// printable is s as a terminal may show it: every control character (an escape sequence, a
// newline, a carriage return, a bidi override) written as its Go escape. Names and messages from
// ARM, a receiver or the state file are not purgewatch's to lay out: raw, one could clear the
// screen, or forge a line such as "failed: none" or a green ALL CLEAR.
func printable(s string) string {
	if !strings.ContainsFunc(s, unprintable) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case !unprintable(r):
			b.WriteRune(r)
		case r < 0x80:
			fmt.Fprintf(&b, "\\x%02x", r)
		default:
			fmt.Fprintf(&b, "\\u%04x", r)
		}
	}
	return b.String()
}

func unprintable(r rune) bool {
	return unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029'
}
