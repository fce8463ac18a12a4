package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storepostgres"
	"github.com/smartimage/enhance/internal/store/storesqlite"
)

// adminUsage is the operator commands' part of the usage text.
const adminUsage = `operator commands, on the server's database (run them where the data is):
  enhancectl admin set-plan --email EMAIL --plan PLAN   move an account to a plan
  enhancectl admin grant --email EMAIL --credits N --reason TEXT
                                                        add credits to this month
  enhancectl admin usage --email EMAIL                  show this month's credits
  enhancectl admin reconcile                            check every credit counter
                                                        against the ledger (exit 1
                                                        when any does not add up)
  each takes --data-dir DIR (ENHANCE_DATA_DIR; default ./data), or
  --database-url postgres://... (ENHANCE_DATABASE_URL) where the server uses PostgreSQL
`

// command tells the admin commands apart from unknown ones, and those
// about one account (which need --email) from those about all.
func command(name string) (perAccount, known bool) {
	switch name {
	case "set-plan", "grant", "usage":
		return true, true
	case "reconcile":
		return false, true
	}
	return false, false
}

// runAdmin executes one operator command (args follow "admin") and
// returns the exit status: 0 done, 1 failed, 2 misused.
func runAdmin(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	args = append([]string{"admin"}, args...)
	if len(args) < 2 {
		fmt.Fprintf(stderr, "enhancectl admin: which command?\n%s", adminUsage)
		return exitUsage
	}
	perAccount, known := command(args[1])
	if !known {
		fmt.Fprintf(stderr, "enhancectl: unknown command %q\n%s", "admin "+args[1], adminUsage)
		return exitUsage
	}
	fs := flag.NewFlagSet("enhancectl admin "+args[1], flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", cmpOr(getenv("ENHANCE_DATA_DIR"), "./data"), "the server's data folder")
	databaseURL := fs.String("database-url", getenv("ENHANCE_DATABASE_URL"), "the server's PostgreSQL (postgres://...); instead of --data-dir")
	email := fs.String("email", "", "the account's email")
	plan := fs.String("plan", "", "plan name: "+planNames())
	amount := fs.Int("credits", 0, "credits to grant (positive)")
	reason := fs.String("reason", "", "why, recorded in the ledger")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	if perAccount && *email == "" {
		fmt.Fprintf(stderr, "enhancectl: %s needs --email\n", args[1])
		return 2
	}
	db, err := open(ctx, *databaseURL, *dataDir)
	if err == nil {
		defer db.Close()
		err = admin(ctx, db, args[1], *email, *plan, *amount, *reason, stdout)
	}
	var misuse usageError
	switch {
	case errors.Is(err, errMismatch):
		return 1
	case errors.As(err, &misuse):
		fmt.Fprintln(stderr, "enhancectl:", err)
		return 2
	case err != nil:
		fmt.Fprintln(stderr, "enhancectl:", err)
		return 1
	}
	return 0
}

// open opens the server's database: PostgreSQL when url is set, else
// the SQLite file in dataDir, which must exist (a typo in --data-dir must
// not create an empty database).
func open(ctx context.Context, url, dataDir string) (store.Store, error) {
	if url != "" {
		return storepostgres.Open(ctx, url)
	}
	path := filepath.Join(dataDir, "enhance.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("no database at %s (is --data-dir right?)", path)
	}
	return storesqlite.Open(ctx, path)
}

func admin(ctx context.Context, db store.Store, command, email, plan string, amount int, reason string, out io.Writer) error {
	if command == "reconcile" {
		return reconcile(ctx, db, out)
	}
	ledger, err := credits.NewLedger(db, "", nil)
	if err != nil {
		return err
	}
	acct, err := db.AccountByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no account with email %q", email)
	}
	if err != nil {
		return err
	}
	switch command {
	case "set-plan":
		if err := ledger.SetPlan(ctx, acct.ID, plan); err != nil {
			if errors.Is(err, credits.ErrUnknownPlan) {
				return usageError(fmt.Sprintf("unknown plan %q (plans: %s)", plan, planNames()))
			}
			return err
		}
		fmt.Fprintf(out, "%s is now on the %s plan (takes effect within seconds)\n", email, plan)
		return nil
	case "grant":
		if amount <= 0 || strings.TrimSpace(reason) == "" {
			return usageError("grant needs --credits N (positive) and --reason")
		}
		if err := ledger.Grant(ctx, acct.ID, amount, "grant: "+reason); err != nil {
			return err
		}
		fmt.Fprintf(out, "granted %d credits to %s for this month\n", amount, email)
		return printUsage(ctx, ledger, acct.ID, out)
	case "usage":
		return printUsage(ctx, ledger, acct.ID, out)
	}
	return usageError(fmt.Sprintf("unknown command %q\n%s", "admin "+command, adminUsage))
}

// errMismatch is reconcile's finding that some counter does not add up,
// already printed.
var errMismatch = errors.New("counters do not add up to the ledger")

// reconcile prints every account period whose counter differs from its
// ledger, and a summary line; errMismatch when there is any.
func reconcile(ctx context.Context, db store.Store, out io.Writer) error {
	mismatches, err := db.Reconcile(ctx)
	if err != nil {
		return err
	}
	accounts := map[string]bool{}
	for _, m := range mismatches {
		who := m.AccountID
		if a, err := db.Account(ctx, m.AccountID); err == nil {
			who = a.Email + " (" + m.AccountID + ")"
		}
		accounts[m.AccountID] = true
		fmt.Fprintf(out, "%s, period %s: counter %s; ledger %s\n", who, m.PeriodStart.Format("2006-01"), totals(m.Counter), totals(m.Ledger))
	}
	if len(mismatches) == 0 {
		fmt.Fprintln(out, "every credit counter adds up to its ledger")
		return nil
	}
	fmt.Fprintf(out, "%d period(s) of %d account(s) do not add up: the ledger is the record, the counter is what balances are read from\n",
		len(mismatches), len(accounts))
	return errMismatch
}

func totals(t store.Totals) string {
	return fmt.Sprintf("charged %d, refunded %d, granted %d", t.Charged, t.Refunded, t.Granted)
}

func printUsage(ctx context.Context, l *credits.Ledger, accountID string, out io.Writer) error {
	u, err := l.Usage(ctx, accountID)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "plan %s, %s to %s: granted %d, used %d, remaining %d\n",
		u.Plan, u.PeriodStart.Format("2006-01-02"), u.PeriodEnd.Format("2006-01-02"), u.Granted, u.Used, u.Remaining())
	return nil
}

func planNames() string {
	var names []string
	for name := range credits.Plans {
		names = append(names, name)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
