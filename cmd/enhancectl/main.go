// Command enhancectl is the service's command-line client, for people and
// for scripts, and the operator's tool.
//
// Its client commands talk to a running server over gRPC (or REST with
// --rest), with the API key in SMART_IMAGE_ENHANCEMENT_API_KEY:
//
//	enhancectl enhance photo.jpg                  writes photo.enhanced.jpg
//	enhancectl upscale --scale 4 -o big/ photos/  every image in photos/, in parallel
//	enhancectl colorize https://example.com/old.jpg --format png
//	enhancectl login you@example.com              a session, for the key commands
//	enhancectl keys create --name ci              prints the new key's secret
//	enhancectl usage; enhancectl pricing
//
// Its admin commands work on the server's database directly, so they run
// where the data is:
//
//	enhancectl admin set-plan --email ann@example.com --plan pro
//	enhancectl admin grant --email ann@example.com --credits 100 --reason "support #12"
//	enhancectl admin usage --email ann@example.com
//	enhancectl admin reconcile
//
// reconcile checks that every account's credit counters add up to its
// ledger (exit status 1 when any does not); it reads the whole ledger, and
// may run while the server serves. Each admin command takes --data-dir
// (ENHANCE_DATA_DIR, default ./data) or --database-url
// (ENHANCE_DATABASE_URL, PostgreSQL), as enhanced does.
//
// The exit status is documented in the usage text (usage below), so that
// a script can tell a bad input from a missing key, an empty balance or a
// server that cannot be reached.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/term"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// Exit statuses a script can rely on; usage lists them.
const (
	exitOK          = 0   // everything asked was done
	exitFailed      = 1   // some inputs (or the command) failed; each reason was printed
	exitUsage       = 2   // the command line is wrong: unknown command, missing argument, bad option
	exitAuth        = 3   // no key, a key or session the server refuses, or one without the scope
	exitExhausted   = 4   // out of credits, or still rate limited after the retries
	exitUnreachable = 5   // the server cannot be reached (address, TLS, unavailable, timed out)
	exitInterrupted = 130 // stopped by Ctrl-C; outputs written so far are kept
)

const usage = `usage: enhancectl COMMAND [flags] [arguments]

image commands (an API key: SMART_IMAGE_ENHANCEMENT_API_KEY, or --key-file FILE):
  enhance  FILE|DIR|URL...   improve photos (--type general|portrait|landscape, --strength 0..1)
  upscale  FILE|DIR|URL...   enlarge photos (--scale 2|3|4)
  colorize FILE|DIR|URL...   colour grayscale photos (--hint '#rrggbb:X,Y[:X,Y...]', --reference FILE|URL)
    A folder means every .jpg, .jpeg, .png and .webp directly inside it, except
    earlier outputs (NAME.enhanced.jpg ...), worked on -j N at a time (default 4).
    Each output goes next to its input as NAME.enhanced.EXT (.upscaled, .colorized;
    a URL's in the current folder), or to -o FILE (one input), -o DIR, or -o - (stdout).
    An existing output is refused unless --force; an input is never overwritten.
    --format png|jpeg|webp, --quality 1..100, --dry-run (a quote; nothing charged)

account commands:
  login [EMAIL]              sign in; the password is read without echo, or from stdin when piped
  logout                     end the session
  keys list                  the account's keys (session, or a key with keys:manage)
  keys create --name NAME [--scope SCOPE]... [--expires 720h|2026-12-31T00:00:00Z]
                             prints the new secret (shown this once) on stdout
  keys rotate KEY_ID [--grace 1h]  prints the new secret; the old one works for the grace period
  keys revoke KEY_ID         stops the key at once
  usage [--ledger]           this month's credits (a key with usage:read, or a session)
  pricing                    plans and prices (no credentials)
    keys list, usage and pricing take --json.

connection flags (every client command):
  --server ADDR    gRPC host:port (default localhost:9443), or with --rest the REST
                   base URL (default https://localhost:8443); ENHANCE_SERVER
  --rest           use REST (HTTPS + JSON) instead of gRPC
  --ca FILE        trust this CA (the development one is data/tls/ca.pem); ENHANCE_CA;
                   default: the system's roots
  --key-file FILE  read the API key from FILE instead of SMART_IMAGE_ENHANCEMENT_API_KEY
  --timeout D      give up on one request after D (default 5m)
The session from login is kept in the user's config folder
($XDG_CONFIG_HOME/enhancectl/session.json, mode 0600).

` + adminUsage + `
exit status:
  0    everything asked was done
  1    some inputs failed (each reason printed), or the command failed
  2    misuse: unknown command, missing argument, bad flag or option
  3    authentication: no API key, a key or session refused, a missing scope, not signed in
  4    out of credits, or rate limited after 3 retries
  5    the server cannot be reached or is unavailable (address, TLS, timeout)
  130  interrupted
`

// console is where a command reads and writes: the process's own streams
// in main, buffers in tests.
type console struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// terminal says stderr is a terminal: folders get a progress bar.
	terminal bool
	// stdoutTerminal says stdout is a terminal: -o - would print an
	// image's bytes on it.
	stdoutTerminal bool
	// stdinTerminal says stdin is a terminal: a password is read from it
	// without echo (readPassword), not as a line.
	stdinTerminal bool
	readPassword  func() ([]byte, error)
	now           func() time.Time
}

// run executes one command and returns its exit status.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	con := &console{stdin: os.Stdin, stdout: stdout, stderr: stderr, getenv: getenv, now: time.Now,
		readPassword: func() ([]byte, error) { return term.ReadPassword(int(os.Stdin.Fd())) }}
	con.stdinTerminal = term.IsTerminal(int(os.Stdin.Fd()))
	if f, ok := stderr.(*os.File); ok && getenv("TERM") != "dumb" {
		con.terminal = term.IsTerminal(int(f.Fd()))
	}
	if f, ok := stdout.(*os.File); ok {
		con.stdoutTerminal = term.IsTerminal(int(f.Fd()))
	}
	return dispatch(ctx, args, con)
}

// clientCommand finds a client command by name; each reports its own
// output and returns an error that exitStatus turns into the exit status.
func clientCommand(name string) (func(context.Context, []string, *console) error, bool) {
	switch name {
	case "enhance", "upscale", "colorize":
		return imageCommand(operationNamed(name)), true
	case "login":
		return loginCommand, true
	case "logout":
		return logoutCommand, true
	case "keys":
		return keysCommand, true
	case "usage":
		return usageCommand, true
	case "pricing":
		return pricingCommand, true
	}
	return nil, false
}

// dispatch runs the command args name.
func dispatch(ctx context.Context, args []string, con *console) int {
	if len(args) == 0 {
		fmt.Fprint(con.stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		fmt.Fprint(con.stdout, usage)
		return exitOK
	case "admin":
		return runAdmin(ctx, args[1:], con.getenv, con.stdout, con.stderr)
	}
	cmd, ok := clientCommand(args[0])
	if !ok {
		fmt.Fprintf(con.stderr, "enhancectl: unknown command %q\n%s", args[0], usage)
		return exitUsage
	}
	return exitStatus(con.stderr, args[0], cmd(ctx, args[1:], con))
}
