package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Result is one tool run against the server, as the report reads it.
type Result struct {
	Phase      string         `json:"phase"` // latency, cheap, scaling or soak
	Name       string         `json:"name"`  // what was called: enhance, pricing, usage, bad key ...
	Door       string         `json:"door"`  // grpc or rest
	Load       string         `json:"load"`  // "c=4" (fixed concurrency) or "20/s" (fixed rate)
	Round      int            `json:"round"`
	GOMAXPROCS int            `json:"gomaxprocs"`
	Requests   int            `json:"requests"`
	RPS        float64        `json:"rps"` // answered requests per second of the run
	P50        time.Duration  `json:"p50"`
	P99        time.Duration  `json:"p99"`
	Codes      map[string]int `json:"codes"`            // HTTP status or gRPC code → count
	Errors     []string       `json:"errors"`           // what the tool saw besides statuses (transport errors)
	Expect     []string       `json:"expect,omitempty"` // the soak's expected codes
	Load1      float64        `json:"load1"`            // the machine's 1-minute load average as the run ended
	When       time.Time      `json:"when"`
}

// record reads one ghz (-O json) or vegeta (report -type=json) report
// and appends it to the results file, one JSON object a line.
func record(args []string) error {
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	results := fs.String("results", "", "results file (JSON lines) to append to")
	tool := fs.String("tool", "", "ghz or vegeta")
	var r Result
	fs.StringVar(&r.Phase, "phase", "", "latency, cheap, scaling or soak")
	fs.StringVar(&r.Name, "name", "", "what was called")
	fs.StringVar(&r.Door, "door", "", "grpc or rest")
	fs.StringVar(&r.Load, "load", "", "c=N or N/s")
	fs.IntVar(&r.Round, "round", 1, "which repetition")
	fs.IntVar(&r.GOMAXPROCS, "gomaxprocs", 0, "the server's GOMAXPROCS")
	expect := fs.String("expect", "", "comma-separated codes every answer must have (the soak's checks)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *results == "" || r.Phase == "" || r.Name == "" || fs.NArg() != 1 {
		return errors.New("record: -results, -phase, -name and one report file are required")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	switch *tool {
	case "ghz":
		err = fromGHZ(data, &r)
	case "vegeta":
		err = fromVegeta(data, &r)
	default:
		err = fmt.Errorf("record: -tool must be ghz or vegeta, not %q", *tool)
	}
	if err != nil {
		return fmt.Errorf("record %s: %w", fs.Arg(0), err)
	}
	if *expect != "" {
		r.Expect = strings.Split(*expect, ",")
	}
	r.Load1 = loadAverage()
	r.When = time.Now().UTC()
	line, _ := json.Marshal(r) // plain fields: cannot fail
	f, err := os.OpenFile(*results, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Printf("  %-7s %-4s %-9s %-6s round %d: %6d requests, %8.1f/s, p50 %s, p99 %s, %s%s\n",
		r.Phase, r.Door, r.Name, r.Load, r.Round, r.Requests, r.RPS, ms(r.P50), ms(r.P99), codes(r.Codes), errorList(r.Errors))
	return nil
}

// ghzReport is the part of ghz's JSON report used here (runner.Report).
type ghzReport struct {
	Count   int           `json:"count"`
	Total   time.Duration `json:"total"`
	Rps     float64       `json:"rps"`
	Latency []struct {
		Percentage int           `json:"percentage"`
		Latency    time.Duration `json:"latency"`
	} `json:"latencyDistribution"`
	StatusCodes map[string]int `json:"statusCodeDistribution"`
	Errors      map[string]int `json:"errorDistribution"`
}

func fromGHZ(data []byte, r *Result) error {
	var g ghzReport
	if err := json.Unmarshal(data, &g); err != nil {
		return err
	}
	r.Requests, r.RPS, r.Codes = g.Count, g.Rps, g.StatusCodes
	for _, l := range g.Latency {
		switch l.Percentage {
		case 50:
			r.P50 = l.Latency
		case 99:
			r.P99 = l.Latency
		}
	}
	// ghz lists every non-OK answer as an "error" too; transport errors
	// are those without a status code of their own.
	for msg, n := range g.Errors {
		if !strings.HasPrefix(msg, "rpc error: code = ") || strings.Contains(msg, "code = Unavailable") || strings.Contains(msg, "code = Canceled") || strings.Contains(msg, "code = DeadlineExceeded") {
			r.Errors = append(r.Errors, fmt.Sprintf("%d× %s", n, msg))
		}
	}
	slices.Sort(r.Errors)
	return nil
}

// vegetaReport is the part of vegeta's JSON report used here (vegeta.Metrics).
type vegetaReport struct {
	Latencies struct {
		P50 time.Duration `json:"50th"`
		P99 time.Duration `json:"99th"`
	} `json:"latencies"`
	Requests   int            `json:"requests"`
	Duration   time.Duration  `json:"duration"`
	Wait       time.Duration  `json:"wait"`
	StatusCode map[string]int `json:"status_codes"`
	Errors     []string       `json:"errors"`
}

func fromVegeta(data []byte, r *Result) error {
	var v vegetaReport
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	r.Requests, r.P50, r.P99, r.Codes = v.Requests, v.Latencies.P50, v.Latencies.P99, v.StatusCode
	// Answered requests over the attack plus the wait for the last
	// answers: ghz's rps is measured the same way.
	if d := v.Duration + v.Wait; d > 0 {
		r.RPS = float64(v.Requests) / d.Seconds()
	}
	// vegeta lists the text of every failed status as an error as well;
	// only those without a status (code 0) are transport errors.
	if n := v.StatusCode["0"]; n > 0 || len(v.Errors) > 0 && !allStatusErrors(v.Errors) {
		r.Errors = v.Errors
	}
	return nil
}

// allStatusErrors reports whether every vegeta error is an HTTP status
// line ("401 Unauthorized"): an answer, not a failure to get one.
func allStatusErrors(errs []string) bool {
	for _, e := range errs {
		code, _, _ := strings.Cut(e, " ")
		if n, err := strconv.Atoi(code); err != nil || n < 100 || n > 599 {
			return false
		}
	}
	return true
}

// loadAverage is the first field of /proc/loadavg (0 where there is none).
func loadAverage() float64 {
	f, err := os.Open("/proc/loadavg")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Split(bufio.ScanWords)
	if !sc.Scan() {
		return 0
	}
	v, _ := strconv.ParseFloat(sc.Text(), 64)
	return v
}

// readResults reads a results file.
func readResults(path string) ([]Result, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rs []Result
	for line := range strings.Lines(string(data)) {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var r Result
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		rs = append(rs, r)
	}
	return rs, nil
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

// codes is "200×95, 429×5", in code order.
func codes(m map[string]int) string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func errorList(errs []string) string {
	if len(errs) == 0 {
		return ""
	}
	return "; errors: " + strings.Join(errs, "; ")
}
