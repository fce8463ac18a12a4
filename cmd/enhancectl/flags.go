package main

import (
	"errors"
	"flag"
	"fmt"
)

// parseFlags parses fs's flags wherever they stand among args, as people
// type them (enhance photo.jpg -o out/), and returns the other arguments;
// "--" ends the flags. A bad flag has been reported when it returns.
func parseFlags(fs *flag.FlagSet, args []string, con *console, synopsis string) ([]string, error) {
	fs.SetOutput(con.stderr)
	fs.Usage = func() {
		fmt.Fprintf(con.stderr, "usage: enhancectl %s\n", synopsis)
		fs.PrintDefaults()
	}
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, reportedError(exitOK)
			}
			return nil, reportedError(exitUsage) // flag printed the error and the usage
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if used := len(args) - len(rest); used > 0 && args[used-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// noArguments refuses arguments a command does not take.
func noArguments(command string, args []string) error {
	if len(args) > 0 {
		return usageError(fmt.Sprintf("%s takes no arguments (got %q)", command, args[0]))
	}
	return nil
}
