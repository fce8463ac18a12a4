// Command flood measures what a password flood costs the real server:
// how long an ordinary enhance takes while 100 registrations of a taken
// email and 100 wrong sign-ins, each from its own address, arrive at
// once, against the same enhance on a quiet server, and the server's
// peak resident memory (VmHWM). Run it from the repository root:
//
//	go run -tags nodynamic ./bench/flood
//
// It builds cmd/enhanced, runs it on loopback with a fresh data folder,
// and prints a Markdown table. It is a measurement, not a test: nothing
// here passes or fails.
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/store/storesqlite"
)

func main() {
	image := flag.String("image", "testdata/images/kodim23.jpg", "the photo each enhance sends")
	quietRuns := flag.Int("quiet", 10, "enhances timed on the quiet server before each flood")
	rounds := flag.Int("rounds", 4, "floods, each from fresh addresses")
	clients := flag.Int("clients", 100, "registrations and sign-ins in each flood (each kind)")
	extra := flag.String("flags", "", "extra server flags, space-separated (e.g. --password-hashes 2)")
	control := flag.Bool("control", false, "flood with GET /v1/pricing instead (no password, no throttle): what the same number of new clients costs by itself")
	binary := flag.String("binary", "", "a server binary to measure instead of building ./cmd/enhanced (an older build, for comparison)")
	flag.Parse()

	dir, err := os.MkdirTemp("", "flood")
	check(err)
	defer os.RemoveAll(dir)
	bin := *binary
	if bin == "" {
		bin = filepath.Join(dir, "enhanced")
		build := exec.Command("go", "build", "-tags", "nodynamic", "-o", bin, "./cmd/enhanced")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		check(build.Run())
	}
	photo, err := os.ReadFile(*image)
	check(err)
	data := filepath.Join(dir, "data")

	// A first start makes the development account; it is moved to the
	// enterprise plan so that credits and rate limits stay out of the way.
	srv := start(bin, data, strings.Fields(*extra))
	srv.stop()
	ctx := context.Background()
	db, err := storesqlite.Open(ctx, filepath.Join(data, "enhance.db"))
	check(err)
	acct, err := db.AccountByEmail(ctx, "dev@localhost")
	check(err)
	ledger, err := credits.NewLedger(db, "", nil)
	check(err)
	check(ledger.SetPlan(ctx, acct.ID, "enterprise"))
	check(db.Close())
	keyBytes, err := os.ReadFile(filepath.Join(data, "dev-api-key"))
	check(err)
	key := strings.TrimSpace(string(keyBytes))

	srv = start(bin, data, strings.Fields(*extra))
	defer srv.stop()
	owner := srv.client("127.0.0.1")
	taken := mustJSON(map[string]any{"email": "taken@example.com", "password": "correct horse battery staple"})
	if st, body := post(owner, srv.base+"/v1/accounts", "application/json", taken, nil); st != http.StatusOK {
		check(fmt.Errorf("registering the taken email: %d %s", st, body))
	}
	enhance := func() time.Duration {
		t0 := time.Now()
		st, body := post(owner, srv.base+"/v1/enhance", "image/jpeg", photo, map[string]string{"x-api-key": key})
		if st != http.StatusOK {
			check(fmt.Errorf("enhance: %d %s", st, body))
		}
		return time.Since(t0)
	}
	for range 5 {
		enhance()
	}
	// Quiet and flooded runs alternate, so that whatever else the machine
	// does weighs on both alike.
	wrong := mustJSON(map[string]any{"email": "taken@example.com", "password": "a wrong guess, again"})
	var quiet, during []time.Duration
	var rssQuiet int64
	statuses := map[string]int{}
	var floodTime time.Duration
	for round := range *rounds {
		for range *quietRuns {
			quiet = append(quiet, enhance())
		}
		if round == 0 {
			rssQuiet = srv.peakRSS()
		}
		var flood []*http.Client
		for i := range *clients {
			flood = append(flood, srv.client(fmt.Sprintf("127.%d.%d.%d", 10+round, 1+i/250, 1+i%250)))
		}
		// Each client connects first, as a flood over connections it
		// holds open would: what is measured is the password work, not
		// 100 TLS handshakes on the machine that also runs the client.
		var warm sync.WaitGroup
		for _, c := range flood {
			warm.Go(func() { get(c, srv.base+"/healthz") })
		}
		warm.Wait()
		var mu sync.Mutex
		var wg sync.WaitGroup
		t0 := time.Now()
		for _, c := range flood {
			for _, req := range []struct {
				kind, path string
				body       []byte
			}{{"registration", "/v1/accounts", taken}, {"sign-in", "/v1/sessions", wrong}} {
				wg.Go(func() {
					// A refusal because the server is busy is retried after
					// its Retry-After, as client libraries do, for up to
					// 30 s: the flood goes on until it has been heard.
					var st int
					for deadline := time.Now().Add(30 * time.Second); ; {
						var body string
						if *control {
							st = get(c, srv.base+"/v1/pricing")
						} else {
							st, body = post(c, srv.base+req.path, "application/json", req.body, nil)
						}
						if st != http.StatusTooManyRequests || !strings.Contains(body, "busy") || time.Now().After(deadline) {
							break
						}
						mu.Lock()
						statuses[req.kind+" busy, retried"]++
						mu.Unlock()
						time.Sleep(time.Second)
					}
					mu.Lock()
					statuses[fmt.Sprintf("%s %d", req.kind, st)]++
					mu.Unlock()
				})
			}
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
	timing:
		for {
			select {
			case <-done:
				break timing
			default:
				during = append(during, enhance())
			}
		}
		floodTime += time.Since(t0)
	}
	rss := srv.peakRSS()

	q, d := summary(quiet), summary(during)
	fmt.Printf("| enhance of %s | runs | median | p90 | max |\n|---|---|---|---|---|\n", filepath.Base(*image))
	fmt.Printf("| quiet | %d | %s | %s | %s |\n", len(quiet), q[0], q[1], q[2])
	fmt.Printf("| during the flood | %d | %s | %s | %s |\n", len(during), d[0], d[1], d[2])
	fmt.Printf("\nmedian during / quiet: %.2f; p90: %.2f\n", d[0].Seconds()/q[0].Seconds(), d[1].Seconds()/q[1].Seconds())
	fmt.Printf("floods: %d × (%d registrations of a taken email + %d wrong sign-ins), %s in all\n", *rounds, *clients, *clients, floodTime.Round(time.Millisecond))
	var keys []string
	for k := range statuses {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Printf("  %s: %d\n", k, statuses[k])
	}
	fmt.Printf("peak RSS (VmHWM): %d MiB after the quiet runs, %d MiB after the floods\n", rssQuiet>>20, rss>>20)
}

// summary is the median, 90th percentile and maximum, in milliseconds.
func summary(ds []time.Duration) [3]time.Duration {
	if len(ds) == 0 {
		return [3]time.Duration{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	return [3]time.Duration{r(s[len(s)/2]), r(s[len(s)*9/10]), r(s[len(s)-1])}
}

type server struct {
	cmd    *exec.Cmd
	base   string
	data   string
	exited chan error
}

var restLine = regexp.MustCompile(`REST:\s+https://(\S+)`)

func start(bin, data string, extra []string) *server {
	args := append([]string{"--dev-account", "--data-dir", data, "--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--metrics-addr", ""}, extra...)
	cmd := exec.Command(bin, args...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = io.Discard, pw
	check(cmd.Start())
	s := &server{cmd: cmd, data: data, exited: make(chan error, 1)}
	go func() { s.exited <- cmd.Wait(); pw.Close() }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		addr := ""
		for sc.Scan() {
			if m := restLine.FindStringSubmatch(sc.Text()); m != nil {
				addr = m[1]
			}
			if strings.Contains(sc.Text(), "msg=serving") && addr != "" {
				found <- addr
			}
		}
	}()
	select {
	case addr := <-found:
		s.base = "https://" + addr
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		check(fmt.Errorf("the server did not start"))
	}
	return s
}

func (s *server) stop() {
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		s.cmd.Process.Kill()
	}
}

// client connects from the loopback address ip.
func (s *server) client(ip string) *http.Client {
	caPEM, err := os.ReadFile(filepath.Join(s.data, "tls", "ca.pem"))
	check(err)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		ForceAttemptHTTP2: true,
		DialContext:       (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext,
	}}
}

// peakRSS is the server's VmHWM in bytes.
func (s *server) peakRSS() int64 {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	check(err)
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			check(err)
			return kb << 10
		}
	}
	check(fmt.Errorf("no VmHWM"))
	return 0
}

func post(c *http.Client, url, contentType string, body []byte, headers map[string]string) (int, string) {
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	check(err)
	req.Header.Set("Content-Type", contentType)
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(c *http.Client, url string) int {
	resp, err := c.Get(url)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	check(err)
	return b
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}
