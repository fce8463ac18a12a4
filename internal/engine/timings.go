package engine

import "time"

// Timings is how long an operation spent in each of its stages, so that a
// caller can tell a slow decoder or encoder from a slow pipeline. A stage
// entered more than once (colorize decodes its reference too) is the sum.
type Timings struct {
	// Decode reads the source (and any reference image) into planes.
	Decode time.Duration
	// Process is the operation's own work: the pipeline, the upscale or
	// the colorization, with the checks around them.
	Process time.Duration
	// Encode writes the output image.
	Encode time.Duration
}

// stopwatch fills Timings as an operation goes: time runs on one stage
// until the operation moves to the next, so the stages add up to the
// whole (but for the option checks before decoding) and an operation that
// fails charges the stage it failed in; a stage never entered stays zero.
type stopwatch struct {
	t       Timings
	checks  time.Duration
	current *time.Duration
	since   time.Time
}

// startStopwatch starts on the option checks, which no stage reports.
func startStopwatch() *stopwatch {
	s := &stopwatch{since: time.Now()}
	s.current = &s.checks
	return s
}

// to charges the time so far to the current stage and moves to stage.
func (s *stopwatch) to(stage *time.Duration) {
	now := time.Now()
	*s.current += now.Sub(s.since)
	s.current, s.since = stage, now
}

func (s *stopwatch) decode()  { s.to(&s.t.Decode) }
func (s *stopwatch) process() { s.to(&s.t.Process) }
func (s *stopwatch) encode()  { s.to(&s.t.Encode) }

// into is deferred by the operations: whatever they return, an error
// included, carries the time each stage took.
func (s *stopwatch) into(r *Result) {
	s.to(s.current)
	r.Timings = s.t
}
