package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// progress reports a batch as it goes: one line per input (done on
// stdout, failed on stderr), and, when stderr is a terminal and there is
// more than one input, a bar under those lines, redrawn as inputs start
// and finish; then a summary on stderr. Piped, it writes plain lines only,
// without escape codes.
type progress struct {
	mu        sync.Mutex
	out       io.Writer // lines of inputs done
	errOut    io.Writer // failures, the bar and the summary
	bar       bool
	total     int
	ended     int
	nFailed   int
	running   int
	summarize bool   // more than one input: the summary is worth its line
	prefix    string // "enhancectl enhance: ", before a failure
}

// barWidth is the bar's length in characters.
const barWidth = 30

// newProgress reports on total inputs; when the image itself goes to
// stdout, the lines go to stderr.
func newProgress(con *console, command string, total int, imageOnStdout bool) *progress {
	p := &progress{out: con.stdout, errOut: con.stderr, bar: con.terminal && total > 1, total: total,
		summarize: total > 1, prefix: "enhancectl " + command + ": "}
	if imageOnStdout {
		p.out = con.stderr
	}
	p.mu.Lock()
	p.draw()
	p.mu.Unlock()
	return p
}

// done reports an input done.
func (p *progress) done(line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended++
	p.print(p.out, line)
}

// failed reports an input that failed, and why.
func (p *progress) failed(name string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ended++
	p.nFailed++
	p.print(p.errOut, p.prefix+name+": "+err.Error())
}

// note reports something about an input that is not its end.
func (p *progress) note(name, line string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.print(p.errOut, p.prefix+name+": "+line)
}

// working counts inputs being worked on.
func (p *progress) working(delta int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.running += delta
	p.draw()
}

// finish clears the bar and prints the summary.
func (p *progress) finish(summary string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clear()
	if p.summarize {
		fmt.Fprintln(p.errOut, summary)
	}
}

// print writes one line above the bar.
func (p *progress) print(w io.Writer, line string) {
	p.clear()
	fmt.Fprintln(w, line)
	p.draw()
}

func (p *progress) clear() {
	if p.bar {
		fmt.Fprint(p.errOut, "\r\x1b[K")
	}
}

// draw writes the bar, with the cursor left at its end: the next clear
// returns to the start of the line.
func (p *progress) draw() {
	if !p.bar {
		return
	}
	filled := barWidth * p.ended / p.total
	s := fmt.Sprintf("\r\x1b[K[%s%s] %d/%d", strings.Repeat("=", filled), strings.Repeat(" ", barWidth-filled), p.ended, p.total)
	if p.nFailed > 0 {
		s += fmt.Sprintf(", %d failed", p.nFailed)
	}
	if p.running > 0 {
		s += fmt.Sprintf(", %d working", p.running)
	}
	fmt.Fprint(p.errOut, s)
}
