// Command load is the helper of bench/load/run.sh (`make load`), which
// drives a real server with ghz (gRPC) and vegeta (REST). It makes the
// request bodies, keeps each tool's JSON report as one result, samples the
// server's /metrics, checks a soak run and writes docs/benchmarks.md.
// Every subcommand is one step of the script:
//
//	load inputs  -photo P -out DIR            request bodies and ghz data files
//	load record  -results F -name N ... FILE  one ghz or vegeta report, kept
//	load metrics -url U [-every D -for D]     go_goroutines, heap in use, RSS
//	load credits -rest U -ca F -key-file F    this month's credits used
//	load soak    -results F ...               the soak's checks (exit 1 on a failure)
//	load report  -results F -out F            the Markdown document
//
// It measures nothing itself: the load comes from the tools, the numbers
// from their reports and the server's own metrics.
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("which step? inputs, record, metrics, credits, soak or report"))
	}
	args := os.Args[2:]
	var err error
	switch os.Args[1] {
	case "inputs":
		err = inputs(args)
	case "record":
		err = record(args)
	case "metrics":
		err = metrics(args)
	case "credits":
		err = creditsUsed(args)
	case "soak":
		err = soak(args)
	case "report":
		err = report(args)
	default:
		err = fmt.Errorf("unknown step %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "load:", err)
	os.Exit(1)
}
