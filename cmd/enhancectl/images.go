package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// operation is one image method as the commands name it.
type operation struct {
	name   string // the command, and the REST path's last element
	suffix string // outputs are NAME.<suffix>.EXT
}

func operationNamed(name string) operation {
	return operation{name: name, suffix: map[string]string{
		"enhance": "enhanced", "upscale": "upscaled", "colorize": "colorized",
	}[name]}
}

// newResponse is the gRPC answer's type.
func (op operation) newResponse() imageResponse {
	switch op.name {
	case "upscale":
		return new(enhancev1.UpscaleResponse)
	case "colorize":
		return new(enhancev1.ColorizeResponse)
	}
	return new(enhancev1.EnhanceResponse)
}

// imageFlags are the image commands' options, mirroring the API's.
type imageFlags struct {
	out       string
	force     bool
	jobs      int
	retries   int
	format    string
	quality   int
	dryRun    bool
	kind      string   // enhance: enhancementType
	strength  *float32 // enhance: unset means the server's default
	scale     int      // upscale
	hints     []*enhancev1.ColorHint
	hintWidth int
	reference string // colorize: FILE or URL
}

// maxRetryWait is the longest a rate-limited request waits to be retried;
// a longer Retry-After (a blocked address) ends the batch.
const maxRetryWait = time.Minute

func imageCommand(op operation) func(context.Context, []string, *console) error {
	return func(ctx context.Context, args []string, con *console) error {
		fs := flag.NewFlagSet("enhancectl "+op.name, flag.ContinueOnError)
		conn := addConnFlags(fs, con.getenv)
		f := &imageFlags{}
		fs.StringVar(&f.out, "o", "", "write to this file (one input), folder, or - (stdout, one input)")
		fs.BoolVar(&f.force, "force", false, "overwrite existing outputs (never an input)")
		fs.IntVar(&f.jobs, "j", 4, "inputs worked on at once")
		fs.IntVar(&f.retries, "retries", 3, "retries of a rate-limited request, after the Retry-After the server gives")
		fs.StringVar(&f.format, "format", "", "output format: png, jpeg or webp (default: the input's)")
		fs.IntVar(&f.quality, "quality", 0, "quality 1..100 of jpeg and webp output (default 90)")
		fs.BoolVar(&f.dryRun, "dry-run", false, "ask what it would cost and produce; nothing is charged or written")
		synopsis := op.name + " [flags] FILE|DIR|URL..."
		switch op.name {
		case "enhance":
			fs.StringVar(&f.kind, "type", "", "enhancement: general (default), portrait or landscape")
			fs.Func("strength", "how strongly to apply every step, 0..1 (default 1)", func(s string) error {
				v, err := strconv.ParseFloat(s, 32)
				if err != nil {
					return errors.New("not a number")
				}
				f.strength = proto.Float32(float32(v))
				return nil
			})
		case "upscale":
			fs.IntVar(&f.scale, "scale", 0, "enlargement: 2 (default), 3 or 4")
		case "colorize":
			fs.Func("hint", "a colour for a point or a stroke: '#rrggbb:X,Y[:X,Y...]' (repeatable)", func(s string) error {
				h, err := parseHint(s)
				if err == nil {
					f.hints = append(f.hints, h)
				}
				return err
			})
			fs.IntVar(&f.hintWidth, "hint-width", 0, "stroke width of every hint in pixels, 1..64 (default 1)")
			fs.StringVar(&f.reference, "reference", "", "a colour photo (FILE or URL) of a similar scene to take colours from")
		}
		names, err := parseFlags(fs, args, con, synopsis)
		if err != nil {
			return err
		}
		for _, h := range f.hints {
			h.WidthPixels = int32(f.hintWidth)
		}
		if f.jobs < 1 {
			return usageError("-j must be at least 1")
		}
		if len(names) == 0 {
			return usageError("no input: name image files, folders or URLs")
		}
		if _, ok := formatExt(f.format); f.format != "" && !ok {
			return usageError(fmt.Sprintf("--format %q is not one of png, jpeg, webp", f.format))
		}
		if f.out == "-" && con.stdoutTerminal {
			return usageError("-o - would write the image's bytes to the terminal; redirect stdout to a file or a program")
		}
		inputs, err := plan(names, op, f)
		if err != nil {
			return err
		}
		key, err := conn.apiKey(con.getenv)
		if err != nil {
			return err
		}
		d, err := conn.dial()
		if err != nil {
			return err
		}
		defer d.close()
		b := &batch{door: d, cred: credential{key: key}, op: op, flags: f, con: con}
		return b.run(ctx, inputs)
	}
}

// parseHint reads '#rrggbb:X,Y[:X,Y...]'; the server checks the colour.
func parseHint(s string) (*enhancev1.ColorHint, error) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 {
		return nil, errors.New("want '#rrggbb:X,Y[:X,Y...]'")
	}
	h := &enhancev1.ColorHint{Color: parts[0]}
	for _, p := range parts[1:] {
		xs, ys, ok := strings.Cut(p, ",")
		x, errX := strconv.Atoi(strings.TrimSpace(xs))
		y, errY := strconv.Atoi(strings.TrimSpace(ys))
		if !ok || errX != nil || errY != nil {
			return nil, fmt.Errorf("point %q is not X,Y", p)
		}
		h.Points = append(h.Points, &enhancev1.Point{X: int32(x), Y: int32(y)})
	}
	return h, nil
}

// request builds the API's request for one source.
func (f *imageFlags) request(op operation, path, url string, ref source) (proto.Message, error) {
	var data []byte
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, pathError(err)
		}
	}
	format := canonicalFormat(f.format)
	switch op.name {
	case "upscale":
		return &enhancev1.UpscaleRequest{ImageUrl: url, Image: data, ScaleFactor: int32(f.scale),
			OutputFormat: format, Quality: int32(f.quality), DryRun: f.dryRun}, nil
	case "colorize":
		return &enhancev1.ColorizeRequest{ImageUrl: url, Image: data, OutputFormat: format, Quality: int32(f.quality),
			Hints: f.hints, ReferenceImageUrl: ref.url, ReferenceImage: ref.data, DryRun: f.dryRun}, nil
	}
	return &enhancev1.EnhanceRequest{ImageUrl: url, Image: data, EnhancementType: f.kind,
		OutputFormat: format, Quality: int32(f.quality), Strength: f.strength, DryRun: f.dryRun}, nil
}

// source is an image given by URL or by its bytes.
type source struct {
	url  string
	data []byte
}

// readReference reads --reference, once for the whole batch.
func (f *imageFlags) readReference() (source, error) {
	switch {
	case f.reference == "":
		return source{}, nil
	case isURL(f.reference):
		return source{url: f.reference}, nil
	}
	data, err := os.ReadFile(f.reference)
	if err != nil {
		return source{}, usageError(fmt.Sprintf("--reference: %v", err))
	}
	return source{data: data}, nil
}

// batch works through the inputs with a bounded number of workers.
type batch struct {
	door  door
	cred  credential
	op    operation
	flags *imageFlags
	con   *console

	mu        sync.Mutex
	fatal     error // the first refusal that ends the batch
	remaining int   // the lowest X-Credits-Remaining seen; -1 none
	charged   int
	quoted    int
}

// outcome is what became of one input.
type outcome int

const (
	done outcome = iota
	failed
	skipped
)

// run works on every input and reports each, then the summary. Inputs
// planned as failures are reported without a call. A refusal that every
// later input would get too (no key, no credits, a bad option, no server)
// stops new inputs from starting; those running finish.
func (b *batch) run(ctx context.Context, inputs []*input) error {
	ref, err := b.flags.readReference()
	if err != nil {
		return err
	}
	p := newProgress(b.con, b.op.name, len(inputs), b.flags.out == "-")
	b.remaining = -1
	start := b.con.now()
	work := make(chan *input)
	results := make(chan outcome, len(inputs))
	var wg sync.WaitGroup
	for range min(b.flags.jobs, len(inputs)) {
		wg.Go(func() {
			for in := range work {
				results <- b.one(ctx, in, ref, p)
			}
		})
	}
	go func() {
		defer close(work)
		for _, in := range inputs {
			if in.err != nil {
				p.failed(in.display, in.err)
				results <- failed
				continue
			}
			select {
			case work <- in:
			case <-ctx.Done():
				results <- skipped
			}
		}
	}()
	counts := map[outcome]int{}
	for range inputs {
		counts[<-results]++
	}
	wg.Wait()
	p.finish(b.summary(counts, b.con.now().Sub(start), len(inputs)))
	switch {
	case ctx.Err() != nil:
		return reportedError(exitInterrupted)
	case b.fatal != nil:
		return reportedError(classify(b.fatal))
	case counts[failed] > 0:
		return reportedError(exitFailed)
	}
	return nil
}

// one works on one input and reports it.
func (b *batch) one(ctx context.Context, in *input, ref source, p *progress) outcome {
	if b.stopped() || ctx.Err() != nil {
		return skipped
	}
	p.working(+1)
	a, err := b.call(ctx, in, ref, p)
	if err == nil && !b.flags.dryRun {
		err = in.write(a, b.flags.force, b.con.stdout)
	}
	p.working(-1)
	switch {
	case ctx.Err() != nil:
		return skipped
	case err != nil:
		if code := classify(err); code != exitFailed && code != exitInterrupted {
			b.stop(err)
		}
		p.failed(in.display, err)
		return failed
	}
	b.mu.Lock()
	if a.remaining >= 0 && (b.remaining < 0 || a.remaining < b.remaining) {
		b.remaining = a.remaining
	}
	b.charged += max(a.charged, 0)
	b.mu.Unlock()
	if b.flags.dryRun {
		q, err := readQuote(a.data)
		if err != nil {
			p.failed(in.display, err)
			return failed
		}
		b.mu.Lock()
		b.quoted += q.Credits
		b.mu.Unlock()
		p.done(fmt.Sprintf("%s: %s, %dx%d (%s)", in.display, plural(q.Credits, "credit"), q.WidthPixels, q.HeightPixels, strings.Join(q.Steps, ", ")))
		return done
	}
	line := fmt.Sprintf("%s -> %s (%dx%d", in.display, in.shown(), a.width, a.height)
	if a.charged >= 0 {
		line += ", " + plural(a.charged, "credit")
	}
	if len(a.steps) > 0 {
		line += "; " + strings.Join(a.steps, ", ")
	}
	p.done(line + ")")
	return done
}

// call sends one input, retrying while the server says it is rate
// limited and when to come back.
func (b *batch) call(ctx context.Context, in *input, ref source, p *progress) (imageAnswer, error) {
	req, err := b.flags.request(b.op, in.path, in.url, ref)
	if err != nil {
		return imageAnswer{}, err
	}
	for attempt := 0; ; attempt++ {
		a, err := b.door.image(ctx, rpcImage(b.op.name), b.cred, req, b.op.newResponse())
		var api *apiError
		if !errors.As(err, &api) || api.reason != "RATE_LIMITED" || attempt >= b.flags.retries ||
			api.retryAfter <= 0 || api.retryAfter > maxRetryWait || b.stopped() {
			return a, err
		}
		p.note(in.display, fmt.Sprintf("rate limited; retrying in %v", api.retryAfter))
		t := time.NewTimer(api.retryAfter)
		select {
		case <-ctx.Done():
			t.Stop()
			return a, ctx.Err()
		case <-t.C:
		}
	}
}

func (b *batch) stop(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fatal == nil {
		b.fatal = err
	}
}

func (b *batch) stopped() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.fatal != nil
}

// summary is the batch's last line.
func (b *batch) summary(counts map[outcome]int, took time.Duration, total int) string {
	var s string
	if b.flags.dryRun {
		s = fmt.Sprintf("quote: %d of %d inputs, %s in all; nothing charged", counts[done], total, plural(b.quoted, "credit"))
	} else {
		s = fmt.Sprintf("%d done, %d failed, %d skipped of %d in %s: %s charged", counts[done], counts[failed], counts[skipped], total,
			took.Round(100*time.Millisecond), plural(b.charged, "credit"))
		if b.remaining >= 0 {
			s += fmt.Sprintf(", %d left this month", b.remaining)
		}
	}
	if b.fatal != nil && counts[skipped] > 0 {
		s += fmt.Sprintf("; %d not sent after the refusal above", counts[skipped])
	}
	return s
}

// quote is a dry run's answer.
type quote struct {
	Operation    string   `json:"operation"`
	Credits      int      `json:"credits"`
	WidthPixels  int      `json:"widthPixels"`
	HeightPixels int      `json:"heightPixels"`
	Steps        []string `json:"steps"`
}

func readQuote(data []byte) (quote, error) {
	var q quote
	if err := json.Unmarshal(data, &q); err != nil {
		return q, fmt.Errorf("reading the quote: %w", err)
	}
	return q, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
