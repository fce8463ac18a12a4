package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// session is a signed-in user's token, kept between commands in the
// user's config folder, readable by the user alone.
type session struct {
	Host       string    `json:"host"` // the server's host: a token works on both of its doors
	Email      string    `json:"email"`
	Token      string    `json:"token"`
	ExpireTime time.Time `json:"expireTime"`
}

// sessionPath is where the session is kept: $XDG_CONFIG_HOME (honoured on
// every system, which lets tests choose), else the system's user config
// folder.
func sessionPath(getenv func(string) string) (string, error) {
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		var err error
		if dir, err = os.UserConfigDir(); err != nil {
			return "", fmt.Errorf("no config folder for the session: %w", err)
		}
	}
	return filepath.Join(dir, "enhancectl", "session.json"), nil
}

// loadSession reads the kept session; nil when there is none.
func loadSession(getenv func(string) string) (*session, error) {
	p, err := sessionPath(getenv)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("%s: %w (enhancectl logout removes it)", p, err)
	}
	return &s, nil
}

// save writes the session with mode 0600 in a folder with mode 0700; a
// new file renamed into place, so a file that had looser permissions is
// replaced rather than kept.
func (s *session) save(getenv func(string) string) (string, error) {
	p, err := sessionPath(getenv)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".session-*") // mode 0600
	if err != nil {
		return "", err
	}
	_, err = tmp.Write(append(b, '\n'))
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), p)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", err
	}
	return p, nil
}

// accountCredential is what the account commands present: the session
// when one is kept for this server and still valid, else the API key
// (which needs keys:manage for the key commands, usage:read for usage).
// preferKey turns the order round (usage reads the key's account).
func accountCredential(con *console, conn *connFlags, preferKey bool) (credential, error) {
	key, err := conn.optionalKey(con.getenv)
	if err != nil {
		return credential{}, err
	}
	if preferKey && key != "" {
		return credential{key: key}, nil
	}
	s, err := loadSession(con.getenv)
	if err != nil {
		return credential{}, err
	}
	var why string
	switch {
	case s == nil:
		why = "not signed in"
	case s.Host != conn.host():
		why = "signed in to " + s.Host + ", not " + conn.host()
	case !con.now().Before(s.ExpireTime):
		why = "the session of " + s.Email + " ended at " + s.ExpireTime.Local().Format(time.DateTime)
	default:
		return credential{bearer: s.Token}, nil
	}
	if key != "" {
		return credential{key: key}, nil
	}
	return credential{}, credentialError(why + ": run enhancectl login EMAIL (or set " + keyEnv + ")")
}

func loginCommand(ctx context.Context, args []string, con *console) error {
	flags := flag.NewFlagSet("enhancectl login", flag.ContinueOnError)
	conn := addConnFlags(flags, con.getenv)
	email := flags.String("email", "", "the account's email (or give it as the argument)")
	names, err := parseFlags(flags, args, con, "login [flags] EMAIL (the password from the terminal, or a line on stdin)")
	if err != nil {
		return err
	}
	switch {
	case len(names) > 1:
		return usageError(fmt.Sprintf("one EMAIL, please (got %q too)", names[1]))
	case len(names) == 1 && *email != "" && names[0] != *email:
		return usageError("two emails: --email and " + names[0])
	case len(names) == 1:
		*email = names[0]
	case *email == "":
		return usageError("whose? give the account's EMAIL")
	}
	password, err := readPassword(con, *email)
	if err != nil {
		return err
	}
	d, err := conn.dial()
	if err != nil {
		return err
	}
	defer d.close()
	var resp enhancev1.CreateSessionResponse
	req := &enhancev1.CreateSessionRequest{Email: *email, Password: password}
	if err := d.call(ctx, rpcCreateSession(), credential{}, req, &resp); err != nil {
		return err
	}
	s := &session{Host: conn.host(), Email: *email, Token: resp.GetToken(), ExpireTime: resp.GetExpireTime().AsTime()}
	p, err := s.save(con.getenv)
	if err != nil {
		return fmt.Errorf("signed in, but could not keep the session: %w", err)
	}
	fmt.Fprintf(con.stdout, "signed in as %s until %s (session kept in %s)\n", *email, s.ExpireTime.Local().Format(time.DateTime), p)
	return nil
}

// readPassword reads the password without echo from a terminal, or as
// one line from stdin when it is piped.
func readPassword(con *console, email string) (string, error) {
	if con.stdinTerminal {
		fmt.Fprintf(con.stderr, "password for %s: ", email)
		b, err := con.readPassword()
		fmt.Fprintln(con.stderr)
		if err != nil {
			return "", fmt.Errorf("reading the password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(con.stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from stdin: %w", err)
	}
	if line = strings.TrimRight(line, "\r\n"); line == "" {
		return "", usageError("no password on stdin (pipe it in, or run login at a terminal)")
	}
	return line, nil
}

func logoutCommand(ctx context.Context, args []string, con *console) error {
	flags := flag.NewFlagSet("enhancectl logout", flag.ContinueOnError)
	conn := addConnFlags(flags, con.getenv)
	names, err := parseFlags(flags, args, con, "logout [flags]")
	if err != nil {
		return err
	}
	if err := noArguments("logout", names); err != nil {
		return err
	}
	s, err := loadSession(con.getenv)
	if err != nil {
		return err
	}
	if s == nil {
		fmt.Fprintln(con.stdout, "not signed in")
		return nil
	}
	// The server forgets the token first; one it no longer knows (ended,
	// or another server's) is as good as forgotten.
	if s.Host == conn.host() && con.now().Before(s.ExpireTime) {
		d, err := conn.dial()
		if err != nil {
			return err
		}
		defer d.close()
		err = d.call(ctx, rpcDeleteSession(), credential{bearer: s.Token}, &enhancev1.DeleteSessionRequest{}, &enhancev1.DeleteSessionResponse{})
		if err != nil && classify(err) != exitAuth {
			return err
		}
	}
	p, err := sessionPath(con.getenv)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	fmt.Fprintf(con.stdout, "signed out %s\n", s.Email)
	return nil
}
