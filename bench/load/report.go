package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Targets from issue 19.
const (
	gatewayTarget = time.Millisecond       // REST p50 minus gRPC p50, small-image enhance
	guardTarget   = 500 * time.Microsecond // authenticated minus public p50, SQLite
	scalingTarget = 1.5                    // req/s at GOMAXPROCS=2 over GOMAXPROCS=1
)

// report writes docs/benchmarks.md from the results, the soak's section
// and the commands the script ran.
func report(args []string) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	results := fs.String("results", "", "results file")
	soakMD := fs.String("soak", "", "the soak's section (from load soak); absent: not run")
	commands := fs.String("commands", "", "the commands the script ran, one a line")
	out := fs.String("out", "docs/benchmarks.md", "the document to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *results == "" {
		return errors.New("report: -results is required")
	}
	rs, err := readResults(*results)
	if err != nil {
		return err
	}
	var w strings.Builder
	first, last := rs[0].When, rs[len(rs)-1].When
	loads := make([]float64, len(rs))
	for i, r := range rs {
		loads[i] = r.Load1
	}
	fmt.Fprintf(&w, "# Load and latency\n\n")
	fmt.Fprintf(&w, "Written by `make load` (`bench/load/run.sh`) on %s, from %s to %s UTC. "+
		"The server (`bin/enhanced`, SQLite, the development TLS certificate, every flag at its default) runs on loopback with a fresh data folder; "+
		"[ghz](https://ghz.sh) drives gRPC and [vegeta](https://github.com/tsenart/vegeta) drives REST, both over TLS and HTTP/2 on one connection, on the same machine as the server. "+
		"Each measurement is made twice (rounds 1 and 2, alternating doors and settings so that whatever else the machine does weighs on both); "+
		"differences and ratios are taken within a round.\n\n",
		first.Format("2006-01-02"), first.Format("15:04"), last.Format("15:04"))
	fmt.Fprintf(&w, "**Machine**: %d cores (%s), %s, %s/%s. The machine is shared with other work: its 1-minute load average was %.2f to %.2f during the runs "+
		"(each run's is in its row), so absolute figures move from run to run; the differences within a round are what the targets are judged on.\n\n",
		runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH, slices.Min(loads), slices.Max(loads))
	if n := niceness(); n != 0 {
		fmt.Fprintf(&w, "The whole run, server and tools, ran at niceness %d (`nice -n %d make load`), as long jobs on this shared machine do: "+
			"other work was served first, which lengthens every time here.\n\n", n, n)
	}

	var verdicts [][3]string

	// Enhance through both doors.
	lat := filter(rs, func(r Result) bool { return r.Phase == "latency" })
	if len(lat) > 0 {
		fmt.Fprintf(&w, "## Enhance of a 256×256 PNG, gRPC and REST\n\n"+
			"`POST /v1/enhance` with the PNG as the body and `ImageService/Enhance` with it inline, `general` pipeline, PNG out, "+
			"one API key on a plan whose rate limit and credits stay out of the way. "+
			"Fixed rate: requests sent at that rate whatever the answers, so latency without queueing; fixed concurrency: that many requests always in flight, so throughput.\n\n")
		table(&w, lat)
		fmt.Fprintf(&w, "\nWhat the gateway adds (REST minus gRPC, same round and load):\n\n| load | round | p50 | p99 | req/s, REST ÷ gRPC |\n|---|---|---|---|---|\n")
		var worst time.Duration = math.MinInt64
		for _, p := range pairs(lat, "door", "rest", "grpc") {
			fmt.Fprintf(&w, "| %s | %d | %+.2f ms | %+.2f ms | %.2f |\n", p.a.Load, p.a.Round, msf(p.a.P50-p.b.P50), msf(p.a.P99-p.b.P99), p.a.RPS/p.b.RPS)
			if strings.HasSuffix(p.a.Load, "/s") {
				worst = max(worst, p.a.P50-p.b.P50)
			}
		}
		var spread []string
		for _, door := range []string{"grpc", "rest"} {
			var p50s []time.Duration
			for _, r := range lat {
				if r.Door == door && strings.HasSuffix(r.Load, "/s") {
					p50s = append(p50s, r.P50)
				}
			}
			if len(p50s) > 1 {
				spread = append(spread, fmt.Sprintf("%s's own p50 moved by %.1f ms between rounds", door, msf(slices.Max(p50s)-slices.Min(p50s))))
			}
		}
		verdicts = append(verdicts, [3]string{"the gateway adds under 1 ms at p50 to a small-image enhance (fixed rate)",
			fmt.Sprintf("at most %+.2f ms (%s)", msf(worst), strings.Join(spread, "; ")), met(worst != math.MinInt64 && worst < gatewayTarget)})
	}

	// Authentication, rate limit and the credit meter.
	cheap := filter(rs, func(r Result) bool { return r.Phase == "cheap" })
	if len(cheap) > 0 {
		fmt.Fprintf(&w, "\n## What authentication and quota add\n\n"+
			"`UsageService/GetPricing` (`GET /v1/pricing`) is public: the chain skips authentication, rate limits, the Idempotency-Key step and the credit meter, "+
			"and the handler builds a constant list. `UsageService/GetUsage` with `page_size` 1 (`GET /v1/usage?pageSize=1`) passes all of them with an API key: "+
			"the key's HMAC check (the verifier's cache), the failed-authentication throttle's read, the per-key and per-account rate limits (in process), the meter, "+
			"and then its handler reads the month's counter and one ledger page from SQLite, which pricing does not. "+
			"So usage minus pricing is what authentication plus quota add to a call that is not charged, plus two indexed SQLite reads: an upper bound. "+
			"(A charged call also reserves and commits its price in the ledger, two SQLite writes; the enhance rows above include them.)\n\n")
		table(&w, cheap)
		fmt.Fprintf(&w, "\nUsage (authenticated) minus pricing (public), same door, round and load:\n\n| door | load | round | p50 | p99 | req/s, usage ÷ pricing |\n|---|---|---|---|---|---|\n")
		worst := map[string]time.Duration{"grpc": math.MinInt64, "rest": math.MinInt64}
		for _, p := range pairs(cheap, "name", "usage", "pricing") {
			fmt.Fprintf(&w, "| %s | %s | %d | %+.3f ms | %+.3f ms | %.2f |\n", p.a.Door, p.a.Load, p.a.Round, msf(p.a.P50-p.b.P50), msf(p.a.P99-p.b.P99), p.a.RPS/p.b.RPS)
			if strings.HasSuffix(p.a.Load, "/s") {
				worst[p.a.Door] = max(worst[p.a.Door], p.a.P50-p.b.P50)
			}
		}
		// The gateway's own cost shows best on the cheap calls, whose
		// p50 is not tens of milliseconds of image work that the
		// machine's other load shifts about.
		fmt.Fprintf(&w, "\nWhat the gateway adds to a cheap call (REST minus gRPC, same call, round and load):\n\n| call | load | round | p50 | p99 | req/s, REST ÷ gRPC |\n|---|---|---|---|---|---|\n")
		for _, p := range pairs(cheap, "door", "rest", "grpc") {
			fmt.Fprintf(&w, "| %s | %s | %d | %+.3f ms | %+.3f ms | %.2f |\n", p.a.Name, p.a.Load, p.a.Round, msf(p.a.P50-p.b.P50), msf(p.a.P99-p.b.P99), p.a.RPS/p.b.RPS)
		}
		for _, door := range []string{"grpc", "rest"} {
			if worst[door] == math.MinInt64 {
				continue
			}
			verdicts = append(verdicts, [3]string{"authentication plus quota add under 0.5 ms at p50 with SQLite (" + door + ", fixed rate)",
				fmt.Sprintf("at most %+.3f ms", msf(worst[door])), met(worst[door] < guardTarget)})
		}
	}

	// Scaling with cores.
	scaling := filter(rs, func(r Result) bool { return r.Phase == "scaling" })
	if len(scaling) > 0 {
		fmt.Fprintf(&w, "\n## Scaling with cores\n\n"+
			"The same enhance at fixed concurrency with the server started at `GOMAXPROCS=1` and at `GOMAXPROCS=2` (this machine has %d cores; "+
			"the load tool runs on the same cores, so the second core is shared with it). The server's image workers stay at their default (the number of CPUs, %d).\n\n",
			runtime.NumCPU(), runtime.NumCPU())
		table(&w, scaling)
		fmt.Fprintf(&w, "\n| door | load | round | req/s at GOMAXPROCS=2 ÷ at 1 | p50 at 2 ÷ at 1 |\n|---|---|---|---|---|\n")
		lowest := math.Inf(1)
		for _, p := range pairs(scaling, "gomaxprocs", "2", "1") {
			ratio := p.a.RPS / p.b.RPS
			fmt.Fprintf(&w, "| %s | %s | %d | %.2f | %.2f |\n", p.a.Door, p.a.Load, p.a.Round, ratio, float64(p.a.P50)/float64(p.b.P50))
			lowest = min(lowest, ratio)
		}
		verdicts = append(verdicts, [3]string{fmt.Sprintf("small-image throughput scales with cores (req/s at 2 ÷ at 1 of at least %.1f)", scalingTarget),
			fmt.Sprintf("at least %.2f", lowest), met(!math.IsInf(lowest, 1) && lowest >= scalingTarget)})
	}

	if *soakMD != "" {
		section, err := os.ReadFile(*soakMD)
		if err != nil {
			return err
		}
		fmt.Fprintf(&w, "\n## Soak\n\n"+
			"Valid and invalid requests together, each kind at its own fixed rate (in the table) for the whole soak: enhances on both doors, "+
			"a mistyped key (from 127.0.0.2, an address of its own, at 15 a minute: under the failed-authentication throttle's 20, so every one is answered 401 rather than 429), "+
			"text sent as an image, a PNG cut in half (charged, then refunded), a PNG header claiming 20000×20000 pixels, a body over the 20 MiB limit, an unknown route, "+
			"and the cheap calls. An image call that finds the image workers and their queue full is answered 429 at once and not charged: "+
			"the server's designed answer when the machine is busy, taken as expected up to a tenth of a kind's calls (`429<10%%`). "+
			"Goroutines, heap in use and resident memory come from the server's `/metrics`; "+
			"the idle figures are taken after a warm-up with the same mix and a settle period, and again after the soak and the same settle period.\n\n")
		w.Write(section)
		verdicts = append(verdicts, [3]string{"soak: only the expected answers, no goroutine or memory growth, a ledger that adds up",
			soakLine(string(section)), met(strings.Contains(string(section), "every check met"))})
	}

	fmt.Fprintf(&w, "\n## Targets\n\n| target (issue 19) | measured | |\n|---|---|---|\n")
	for _, v := range verdicts {
		fmt.Fprintf(&w, "| %s | %s | %s |\n", v[0], v[1], v[2])
	}
	if *commands != "" {
		cmds, err := os.ReadFile(*commands)
		if err != nil {
			return err
		}
		fmt.Fprintf(&w, "\n## Commands\n\n`make load` runs `bench/load/run.sh`, which builds the server and the tools (ghz and vegeta, pinned, with `go install`), "+
			"starts the server, moves the development account to the `enterprise` plan (`enhancectl admin set-plan`: a million credits a month and 60,000 requests a minute, "+
			"so credits and rate limits stay out of the measurements), and then runs, with `$W` its work folder and `$KEY` the development key (first round shown):\n\n```sh\n%s```\n", cmds)
	}
	if err := os.WriteFile(*out, []byte(w.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("wrote %s\n", *out)
	return nil
}

// table writes the results as rows.
func table(w *strings.Builder, rs []Result) {
	fmt.Fprintf(w, "| call | door | GOMAXPROCS | load | round | requests | req/s | p50 | p99 | answers | load avg |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %d | %s | %d | %d | %.1f | %s | %s | %s%s | %.2f |\n",
			r.Name, r.Door, r.GOMAXPROCS, r.Load, r.Round, r.Requests, r.RPS, ms(r.P50), ms(r.P99), codes(r.Codes), errorList(r.Errors), r.Load1)
	}
}

type pair struct{ a, b Result }

// pairs matches each result whose field is a with the one that differs
// from it only in that field being b.
func pairs(rs []Result, field, a, b string) []pair {
	key := func(r Result, omit string) string {
		parts := map[string]string{"name": r.Name, "door": r.Door, "gomaxprocs": fmt.Sprint(r.GOMAXPROCS)}
		delete(parts, omit)
		return fmt.Sprint(parts, r.Load, r.Round)
	}
	value := func(r Result) string {
		switch field {
		case "name":
			return r.Name
		case "door":
			return r.Door
		default:
			return fmt.Sprint(r.GOMAXPROCS)
		}
	}
	var ps []pair
	for _, x := range rs {
		if value(x) != a {
			continue
		}
		for _, y := range rs {
			if value(y) == b && key(x, field) == key(y, field) {
				ps = append(ps, pair{x, y})
			}
		}
	}
	return ps
}

func filter(rs []Result, keep func(Result) bool) []Result {
	var out []Result
	for _, r := range rs {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func met(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

// soakLine is the soak section's closing sentence.
func soakLine(section string) string {
	lines := strings.Split(strings.TrimSpace(section), "\n")
	return strings.TrimPrefix(lines[len(lines)-1], "Soak: ")
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// niceness is this process's nice value (field 19 of /proc/self/stat),
// which the server and the tools share with it; 0 where unknown.
func niceness() int {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: count from its ")".
	i := strings.LastIndexByte(string(data), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 17 {
		return 0
	}
	n, _ := strconv.Atoi(f[16])
	return n
}
