package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/smartimage/enhance/internal/credits"
)

// soak checks a soak run and writes its section of the report:
//
//   - every answer had one of the codes its requests expect, and no
//     request failed without an answer;
//   - goroutines, with the server idle after the run and a settle period,
//     are at most -goroutine-slack above the count idle before it;
//   - heap in use and resident memory in the run's last minute are, as
//     medians of the samples, within -memory-growth of the first minute's;
//   - the credits used grew by exactly the price of the enhances answered
//     200 / OK (every refused and failed call refunded or never charged),
//     and `enhancectl admin reconcile` found every counter equal to its
//     ledger.
//
// It returns an error, after writing the section, when a check fails.
func soak(args []string) error {
	fs := flag.NewFlagSet("soak", flag.ContinueOnError)
	results := fs.String("results", "", "results file; its soak phase is checked")
	before := fs.String("before", "", "metrics sample of the idle server before the soak")
	during := fs.String("during", "", "metrics samples taken during the soak")
	after := fs.String("after", "", "metrics samples of the idle server after it")
	creditsBefore := fs.Int("credits-before", -1, "credits used before the soak")
	creditsAfter := fs.Int("credits-after", -1, "credits used after it")
	reconcileOut := fs.String("reconcile", "", "what enhancectl admin reconcile printed")
	reconcileStatus := fs.Int("reconcile-status", -1, "its exit status")
	slack := fs.Int("goroutine-slack", 10, "goroutines allowed above the count before")
	growth := fs.Float64("memory-growth", 0.25, "growth of the median heap in use and RSS, last minute over first, allowed")
	out := fs.String("out", "", "Markdown file for the soak's section of the report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *results == "" || *before == "" || *during == "" || *after == "" || *out == "" || *reconcileOut == "" {
		return errors.New("soak: -results, -before, -during, -after, -reconcile and -out are required")
	}
	rs, err := readResults(*results)
	if err != nil {
		return err
	}
	b, err := readSamples(*before)
	if err != nil {
		return err
	}
	d, err := readSamples(*during)
	if err != nil {
		return err
	}
	a, err := readSamples(*after)
	if err != nil {
		return err
	}
	reconciled, err := os.ReadFile(*reconcileOut)
	if err != nil {
		return err
	}

	var w strings.Builder
	var failures []string
	check := func(ok bool, what string, args ...any) string {
		msg := fmt.Sprintf(what, args...)
		if !ok {
			failures = append(failures, msg)
			return "**not met**"
		}
		return "met"
	}

	fmt.Fprintf(&w, "| door | request | rate | requests | p50 | p99 | answers | expected | |\n|---|---|---|---|---|---|---|---|---|\n")
	charged := 0
	var soaked []Result
	for _, r := range rs {
		if r.Phase == "soak" {
			soaked = append(soaked, r)
		}
	}
	if len(soaked) == 0 {
		failures = append(failures, "no soak results")
	}
	for _, r := range soaked {
		unexpected := 0
		for code, n := range r.Codes {
			if allowed, ok := expected(r.Expect, code); !ok || n > int(allowed*float64(r.Requests)) {
				unexpected += n
			}
		}
		if r.Name == "enhance" {
			charged += r.Codes["200"] + r.Codes["OK"]
		}
		verdict := check(unexpected == 0 && len(r.Errors) == 0 && r.Requests > 0,
			"%s %s: %d requests, answers %s, expected only %s%s", r.Door, r.Name, r.Requests, codes(r.Codes), strings.Join(r.Expect, ", "), errorList(r.Errors))
		fmt.Fprintf(&w, "| %s | %s | %s | %d | %s | %s | %s%s | %s | %s |\n",
			r.Door, r.Name, r.Load, r.Requests, ms(r.P50), ms(r.P99), codes(r.Codes), errorList(r.Errors), strings.Join(r.Expect, ", "), verdict)
	}

	first, last := window(d, 0, time.Minute), window(d, d[len(d)-1].At-time.Minute, d[len(d)-1].At+time.Second)
	g0, g1 := b[len(b)-1].Goroutines, a[len(a)-1].Goroutines
	h0, h1 := median(first, heap), median(last, heap)
	r0, r1 := median(first, rss), median(last, rss)
	fmt.Fprintf(&w, "\n| check | before | after | allowed | |\n|---|---|---|---|---|\n")
	fmt.Fprintf(&w, "| goroutines, idle (after a settle period) | %.0f | %.0f | +%d | %s |\n", g0, g1, *slack,
		check(g1 <= g0+float64(*slack), "goroutines grew from %.0f to %.0f", g0, g1))
	fmt.Fprintf(&w, "| heap in use, median of the first and the last minute | %s | %s | +%.0f%% | %s |\n", mib(h0), mib(h1), *growth*100,
		check(h1 <= h0*(1+*growth), "heap in use grew from %s to %s", mib(h0), mib(h1)))
	fmt.Fprintf(&w, "| resident memory, median of the first and the last minute | %s | %s | +%.0f%% | %s |\n", mib(r0), mib(r1), *growth*100,
		check(r1 <= r0*(1+*growth), "resident memory grew from %s to %s", mib(r0), mib(r1)))
	fmt.Fprintf(&w, "| heap in use and resident memory, idle | %s, %s | %s, %s | (shown) | |\n",
		mib(b[len(b)-1].HeapInuse), mib(b[len(b)-1].RSS), mib(a[len(a)-1].HeapInuse), mib(a[len(a)-1].RSS))
	used := *creditsAfter - *creditsBefore
	want := charged * credits.PriceEnhance
	fmt.Fprintf(&w, "| credits used (GET /v1/usage) | %d | %d | +%d: %d enhances answered 200/OK × %d | %s |\n",
		*creditsBefore, *creditsAfter, want, charged, credits.PriceEnhance,
		check(*creditsBefore >= 0 && used == want, "credits used grew by %d; the enhances answered cost %d", used, want))
	fmt.Fprintf(&w, "| `enhancectl admin reconcile` (exit %d) | | %s | exit 0 | %s |\n", *reconcileStatus,
		strings.TrimSpace(string(reconciled)), check(*reconcileStatus == 0, "reconcile: exit %d: %s", *reconcileStatus, strings.TrimSpace(string(reconciled))))

	fmt.Fprintf(&w, "\nThe server's own metrics during the soak, every %s:\n\n| s | goroutines | heap in use | RSS |\n|---|---|---|---|\n", sampleStep(d))
	for _, s := range d {
		fmt.Fprintf(&w, "| %.0f | %.0f | %s | %s |\n", s.At.Seconds(), s.Goroutines, mib(s.HeapInuse), mib(s.RSS))
	}
	if len(failures) == 0 {
		fmt.Fprintf(&w, "\nSoak: every check met.\n")
	} else {
		fmt.Fprintf(&w, "\nSoak: **%d check(s) not met**: %s.\n", len(failures), strings.Join(failures, "; "))
	}
	if err := os.WriteFile(*out, []byte(w.String()), 0o644); err != nil {
		return err
	}
	fmt.Print(w.String())
	if len(failures) > 0 {
		return fmt.Errorf("soak: %d check(s) not met", len(failures))
	}
	return nil
}

// expected is the share of answers code may have under expect: 1 for a
// code listed plainly ("200"), the given share for one listed with a
// bound ("429<10%": an image call the server was too busy to queue, at
// most a tenth of them).
func expected(expect []string, code string) (float64, bool) {
	for _, e := range expect {
		c, bound, limited := strings.Cut(e, "<")
		if c != code {
			continue
		}
		if !limited {
			return 1, true
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(bound, "%"), 64)
		if err != nil {
			return 0, false
		}
		return pct / 100, true
	}
	return 0, false
}

func heap(s Sample) float64 { return s.HeapInuse }
func rss(s Sample) float64  { return s.RSS }

// window is the samples taken in [from, to).
func window(ss []Sample, from, to time.Duration) []Sample {
	var w []Sample
	for _, s := range ss {
		if s.At >= from && s.At < to {
			w = append(w, s)
		}
	}
	return w
}

func median(ss []Sample, f func(Sample) float64) float64 {
	if len(ss) == 0 {
		return 0
	}
	v := make([]float64, len(ss))
	for i, s := range ss {
		v[i] = f(s)
	}
	slices.Sort(v)
	return v[len(v)/2]
}

func sampleStep(ss []Sample) string {
	if len(ss) < 2 {
		return "run"
	}
	return strconv.Itoa(int((ss[1].At - ss[0].At).Round(time.Second).Seconds())) + " s"
}

func mib(b float64) string { return fmt.Sprintf("%.1f MiB", b/(1<<20)) }
