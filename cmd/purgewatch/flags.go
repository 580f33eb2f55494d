package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
)

// commandFlags is a command's flag set: its usage names the command and lists its own flags only,
// and a bad flag is an error on stderr.
func commandFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: purgewatch %s\n\nflags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// asksHelp reports whether args ask for help (-h, -help or --help, before any "--"), and if so
// prints the command's usage to stdout: help asked for is output and success, not an error.
func asksHelp(fs *flag.FlagSet, args []string, stdout io.Writer) bool {
	end := slices.Index(args, "--")
	if end < 0 {
		end = len(args)
	}
	if !slices.ContainsFunc(args[:end], isHelp) {
		return false
	}
	errOut := fs.Output()
	fs.SetOutput(stdout)
	fs.Usage()
	fs.SetOutput(errOut)
	return true
}

func isHelp(arg string) bool { return arg == "-h" || arg == "-help" || arg == "--help" }
