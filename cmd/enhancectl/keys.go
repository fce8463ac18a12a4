package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// defaultScopes are a new key's scopes when --scope is not given: those of
// an account's first key.
func defaultScopes() []string {
	return []string{"images:enhance", "images:upscale", "images:colorize", "usage:read"}
}

// keysCommand manages the account's keys with the session from login, or
// with an API key holding keys:manage. A new or rotated secret is the only
// thing written to stdout, so that a script can capture it.
func keysCommand(ctx context.Context, args []string, con *console) error {
	if len(args) == 0 {
		return usageError("which one: list, create, rotate or revoke?")
	}
	sub := args[0]
	synopsis := map[string]string{
		"list":   "keys list [--json]",
		"create": "keys create --name NAME [--scope SCOPE]... [--expires 720h|RFC3339]",
		"rotate": "keys rotate KEY_ID [--grace 1h]",
		"revoke": "keys revoke KEY_ID",
	}[sub]
	if synopsis == "" {
		return usageError(fmt.Sprintf("unknown command %q (keys: list, create, rotate, revoke)", "keys "+sub))
	}
	flags := flag.NewFlagSet("enhancectl keys "+sub, flag.ContinueOnError)
	conn := addConnFlags(flags, con.getenv)
	var (
		jsonOut = new(bool)
		name    = new(string)
		expires = new(string)
		grace   = new(time.Duration)
		scopes  []string
	)
	switch sub {
	case "list":
		jsonOut = flags.Bool("json", false, "print the keys as JSON")
	case "create":
		name = flags.String("name", "", "the key's name, 1 to 100 characters")
		expires = flags.String("expires", "", "when the key stops working: a duration from now (720h, 30d) or a time (2026-12-31T00:00:00Z); default never")
		flags.Func("scope", "a scope to grant, repeatable or comma-separated (default "+strings.Join(defaultScopes(), ",")+"; also keys:manage)", func(s string) error {
			for sc := range strings.SplitSeq(s, ",") {
				if sc = strings.TrimSpace(sc); sc != "" {
					scopes = append(scopes, sc)
				}
			}
			return nil
		})
	case "rotate":
		grace = flags.Duration("grace", 0, "how long the old secret keeps working, up to 168h (default: it stops at once)")
	}
	names, err := parseFlags(flags, args[1:], con, synopsis)
	if err != nil {
		return err
	}
	var id string
	switch sub {
	case "list", "create":
		if err := noArguments("keys "+sub, names); err != nil {
			return err
		}
	default:
		if len(names) != 1 {
			return usageError(sub + " needs one KEY_ID (keys list shows them)")
		}
		if id, err = keyID(names[0]); err != nil {
			return err
		}
	}
	req := &enhancev1.CreateKeyRequest{DisplayName: *name, Scopes: scopes}
	if sub == "create" {
		if strings.TrimSpace(*name) == "" {
			return usageError("create needs --name NAME")
		}
		if len(req.Scopes) == 0 {
			req.Scopes = defaultScopes()
		}
		if *expires != "" {
			t, err := parseExpiry(*expires, con.now())
			if err != nil {
				return err
			}
			req.ExpireTime = timestamppb.New(t)
		}
	}
	cred, err := accountCredential(con, conn, false)
	if err != nil {
		return err
	}
	d, err := conn.dial()
	if err != nil {
		return err
	}
	defer d.close()
	switch sub {
	case "list":
		var resp enhancev1.ListKeysResponse
		if err := d.call(ctx, rpcListKeys(), cred, &enhancev1.ListKeysRequest{}, &resp); err != nil {
			return err
		}
		if *jsonOut {
			return printJSON(con, &resp)
		}
		printKeys(con, resp.GetApiKeys())
	case "create":
		var resp enhancev1.CreateKeyResponse
		if err := d.call(ctx, rpcCreateKey(), cred, req, &resp); err != nil {
			return err
		}
		k := resp.GetApiKey()
		fmt.Fprintf(con.stderr, "created key %s (%s) with %s; its secret, shown this once:\n",
			strings.TrimPrefix(k.GetName(), "keys/"), k.GetDisplayName(), strings.Join(k.GetScopes(), ", "))
		fmt.Fprintln(con.stdout, k.GetSecret())
	case "rotate":
		var resp enhancev1.RotateKeyResponse
		rreq := &enhancev1.RotateKeyRequest{KeyId: id, GracePeriod: durationpb.New(*grace)}
		if err := d.call(ctx, rpcRotateKey(id), cred, rreq, &resp); err != nil {
			return err
		}
		k := resp.GetApiKey()
		old := "the old secret stopped working"
		if t := k.GetPreviousSecretExpireTime(); t != nil {
			old = "the old secret works until " + t.AsTime().Local().Format(time.DateTime)
		}
		fmt.Fprintf(con.stderr, "rotated key %s (%s): %s; the new secret, shown this once:\n", id, k.GetDisplayName(), old)
		fmt.Fprintln(con.stdout, k.GetSecret())
	case "revoke":
		if err := d.call(ctx, rpcDeleteKey(id), cred, &enhancev1.DeleteKeyRequest{KeyId: id}, &enhancev1.DeleteKeyResponse{}); err != nil {
			return err
		}
		fmt.Fprintf(con.stdout, "revoked key %s\n", id)
	}
	return nil
}

// keyID reads a key's id as keys list shows it, or as "keys/ID" or its
// prefix "sie_ID". A whole key is refused without being echoed: it is
// a secret, and would travel in a URL.
func keyID(s string) (string, error) {
	id := strings.TrimPrefix(strings.TrimPrefix(s, "keys/"), "sie_")
	if id == "" || strings.ContainsAny(id, "_/?#% ") {
		return "", usageError("KEY_ID is the id keys list shows, not a key's secret")
	}
	return id, nil
}

// parseExpiry reads --expires: a duration from now (Go's, or whole days
// as 30d) or an RFC 3339 time.
func parseExpiry(s string, now time.Time) (time.Time, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		if n, err := strconv.Atoi(days); err == nil && n > 0 {
			return now.Add(time.Duration(n) * 24 * time.Hour), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(d), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, usageError(fmt.Sprintf("--expires %q is neither a duration (720h, 30d) nor a time (2026-12-31T00:00:00Z)", s))
}

func printKeys(con *console, keys []*enhancev1.ApiKey) {
	tw := tabwriter.NewWriter(con.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSCOPES\tCREATED\tLAST USED\tEXPIRES")
	for _, k := range keys {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", strings.TrimPrefix(k.GetName(), "keys/"), k.GetDisplayName(),
			strings.Join(k.GetScopes(), ","), when(k.GetCreateTime(), "-"), when(k.GetLastUseTime(), "never"), when(k.GetExpireTime(), "never"))
	}
	tw.Flush()
}

// when is a time for a table, or none when unset.
func when(t *timestamppb.Timestamp, none string) string {
	if t == nil {
		return none
	}
	return t.AsTime().Local().Format("2006-01-02 15:04")
}
