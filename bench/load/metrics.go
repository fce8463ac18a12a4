package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sample is what the soak watches in the server's /metrics.
type Sample struct {
	At         time.Duration // since sampling began
	Goroutines float64       // go_goroutines
	HeapInuse  float64       // go_memstats_heap_inuse_bytes
	RSS        float64       // process_resident_memory_bytes
}

var sampled = map[string]func(*Sample, float64){
	"go_goroutines":                 func(s *Sample, v float64) { s.Goroutines = v },
	"go_memstats_heap_inuse_bytes":  func(s *Sample, v float64) { s.HeapInuse = v },
	"process_resident_memory_bytes": func(s *Sample, v float64) { s.RSS = v },
}

// metrics prints one sample, or one every -every for -for, as
// tab-separated lines: seconds, goroutines, heap in use, RSS (bytes).
func metrics(args []string) error {
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	url := fs.String("url", "", "the server's /metrics URL")
	every := fs.Duration("every", 5*time.Second, "time between samples")
	total := fs.Duration("for", 0, "how long to sample (0: once)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" {
		return errors.New("metrics: -url is required")
	}
	start := time.Now()
	for {
		s, err := scrape(*url)
		if err != nil {
			return err
		}
		s.At = time.Since(start)
		fmt.Printf("%.0f\t%.0f\t%.0f\t%.0f\n", s.At.Seconds(), s.Goroutines, s.HeapInuse, s.RSS)
		if time.Since(start)+*every > *total {
			return nil
		}
		time.Sleep(*every)
	}
}

func scrape(url string) (Sample, error) {
	c := http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return Sample{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Sample{}, fmt.Errorf("metrics: %s answered %s", url, resp.Status)
	}
	var s Sample
	found := 0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		name, value, ok := strings.Cut(sc.Text(), " ")
		set, wanted := sampled[name]
		if !ok || !wanted {
			continue
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil {
			return Sample{}, fmt.Errorf("metrics: %s: %w", name, err)
		}
		set(&s, v)
		found++
	}
	if err := sc.Err(); err != nil {
		return Sample{}, err
	}
	if found != len(sampled) {
		return Sample{}, fmt.Errorf("metrics: %s lacks go_goroutines, go_memstats_heap_inuse_bytes or process_resident_memory_bytes", url)
	}
	return s, nil
}

// readSamples reads what metrics printed.
func readSamples(path string) ([]Sample, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var ss []Sample
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) != 4 {
			continue
		}
		var v [4]float64
		for i := range f {
			if v[i], err = strconv.ParseFloat(f[i], 64); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		}
		ss = append(ss, Sample{At: time.Duration(v[0] * float64(time.Second)), Goroutines: v[1], HeapInuse: v[2], RSS: v[3]})
	}
	if len(ss) == 0 {
		return nil, fmt.Errorf("%s: no samples", path)
	}
	return ss, nil
}
