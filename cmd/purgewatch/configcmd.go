package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/purgewatch/purgewatch/internal/config"
)

func configCheckCommand(path string, stdout, stderr io.Writer) int {
	if _, err := config.Load(path); err != nil {
		printErrors(stderr, err)
		return exitFailed
	}
	fmt.Fprintf(stdout, "%s: OK\n", path)
	return exitOK
}

// printErrors writes each joined error on a line of its own.
func printErrors(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			printErrors(w, e)
		}
		return
	}
	var ce *config.Error
	if errors.As(err, &ce) {
		fmt.Fprintln(w, ce.Error())
		return
	}
	fmt.Fprintln(w, "purgewatch:", err)
}
