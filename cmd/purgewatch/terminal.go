package main

import (
	"fmt"
	"io"
	"strings"
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
