package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// usageCommand prints this month's credits, and with --ledger every entry
// of the month's ledger. The API key comes first here: it is the account
// whose images it pays for.
func usageCommand(ctx context.Context, args []string, con *console) error {
	flags := flag.NewFlagSet("enhancectl usage", flag.ContinueOnError)
	conn := addConnFlags(flags, con.getenv)
	jsonOut := flags.Bool("json", false, "print the answer as JSON")
	ledger := flags.Bool("ledger", false, "also list the month's ledger: charges, refunds and grants")
	names, err := parseFlags(flags, args, con, "usage [--ledger] [--json]")
	if err != nil {
		return err
	}
	if err := noArguments("usage", names); err != nil {
		return err
	}
	cred, err := accountCredential(con, conn, true)
	if err != nil {
		return err
	}
	d, err := conn.dial()
	if err != nil {
		return err
	}
	defer d.close()
	var u enhancev1.GetUsageResponse
	req := &enhancev1.GetUsageRequest{}
	if *ledger {
		req.PageSize = 1000
	}
	if err := d.call(ctx, rpcGetUsage(req), cred, req, &u); err != nil {
		return err
	}
	for *ledger && u.GetNextPageToken() != "" {
		var page enhancev1.GetUsageResponse
		req.PageToken = u.GetNextPageToken()
		if err := d.call(ctx, rpcGetUsage(req), cred, req, &page); err != nil {
			return err
		}
		u.Entries = append(u.Entries, page.GetEntries()...)
		u.NextPageToken = page.GetNextPageToken()
	}
	if !*ledger {
		u.Entries, u.NextPageToken = nil, ""
	}
	if *jsonOut {
		return printJSON(con, &u)
	}
	fmt.Fprintf(con.stdout, "plan %s, %s to %s (UTC): granted %d, used %d, remaining %d\n", u.GetPlan(),
		u.GetPeriodStart().AsTime().Format("2006-01-02"), u.GetPeriodEnd().AsTime().Format("2006-01-02"),
		u.GetCreditsGranted(), u.GetCreditsUsed(), u.GetCreditsRemaining())
	if *ledger {
		tw := tabwriter.NewWriter(con.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TIME\tKIND\tOPERATION\tCREDITS\tSTATE\tKEY\tREQUEST")
		for _, e := range u.GetEntries() {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", when(e.GetTime(), "-"), e.GetKind(), e.GetOperation(), e.GetCredits(),
				strings.TrimSpace(e.GetState()+" "+e.GetReason()), strings.TrimPrefix(e.GetKey(), "keys/"), e.GetRequestId())
		}
		tw.Flush()
	}
	return nil
}

// pricingCommand prints the published plans and prices; it needs no
// credentials.
func pricingCommand(ctx context.Context, args []string, con *console) error {
	flags := flag.NewFlagSet("enhancectl pricing", flag.ContinueOnError)
	conn := addConnFlags(flags, con.getenv)
	jsonOut := flags.Bool("json", false, "print the answer as JSON")
	names, err := parseFlags(flags, args, con, "pricing [--json]")
	if err != nil {
		return err
	}
	if err := noArguments("pricing", names); err != nil {
		return err
	}
	d, err := conn.dial()
	if err != nil {
		return err
	}
	defer d.close()
	var p enhancev1.GetPricingResponse
	if err := d.call(ctx, rpcGetPricing(), credential{}, &enhancev1.GetPricingRequest{}, &p); err != nil {
		return err
	}
	if *jsonOut {
		return printJSON(con, &p)
	}
	tw := tabwriter.NewWriter(con.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PLAN\tCREDITS A MONTH\tREQUESTS A MINUTE")
	for _, pl := range p.GetPlans() {
		fmt.Fprintf(tw, "%s\t%d\t%d\n", pl.GetName(), pl.GetMonthlyCredits(), pl.GetRequestsPerMinute())
	}
	tw.Flush()
	fmt.Fprintln(con.stdout)
	tw = tabwriter.NewWriter(con.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OPERATION\tCREDITS")
	for _, pr := range p.GetPrices() {
		price := plural(int(pr.GetCredits()), "credit")
		if pr.GetUnit() != "" {
			price += " per " + pr.GetUnit()
		}
		fmt.Fprintf(tw, "%s\t%s\n", pr.GetOperation(), price)
	}
	return tw.Flush()
}

// printJSON writes m as the REST API spells it, every field included,
// indented the same way every time (protojson's own layout varies on
// purpose).
func printJSON(con *console, m proto.Message) error {
	b, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = con.stdout.Write(out.Bytes())
	return err
}
