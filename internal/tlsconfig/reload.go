package tlsconfig

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// ReloadInterval is how often a Reloader looks at its files: a renewal
// (by cert-manager or certbot, weeks before expiry) is served within it.
const ReloadInterval = 5 * time.Second

// Reloader serves the certificate and key in a pair of files and reads
// them again when either changes (its modification time, size or inode:
// a file replaced by a rename or a Kubernetes secret's symlink swap), so
// that a renewed certificate is served without a restart. A pair that
// fails to load (a half-written renewal, a key that does not match) keeps
// the previous one.
type Reloader struct {
	certPath, keyPath string
	// now is served; its previous leaf is still accepted by the pin, for
	// a handshake begun just before the swap.
	now atomic.Pointer[served]

	// mu serializes Check; seen is what the files looked like when last
	// read, and missing whether the last look failed.
	mu      sync.Mutex
	seen    [2]os.FileInfo
	missing bool
}

// served is a Reloader's current certificate and the leaf it replaced.
type served struct {
	cert     *tls.Certificate
	previous []byte
}

// NewReloader reads the pair in certPath and keyPath, which must load.
func NewReloader(certPath, keyPath string) (*Reloader, error) {
	r := &Reloader{certPath: certPath, keyPath: keyPath}
	// Stat before reading: a change in between is then read again at the
	// next Check.
	seen, err := r.stat()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: load certificate: %w", err)
	}
	r.seen = seen
	r.now.Store(&served{cert: &cert})
	return r, nil
}

// Certificate is the pair served now.
func (r *Reloader) Certificate() *tls.Certificate { return r.now.Load().cert }

// GetCertificate serves the pair read last; it is tls.Config's hook.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.Certificate(), nil
}

// pinned reports whether leaf is the certificate served now or the one it
// replaced.
func (r *Reloader) pinned(leaf []byte) bool {
	s := r.now.Load()
	return string(leaf) == string(s.cert.Certificate[0]) || s.previous != nil && string(leaf) == string(s.previous)
}

// Check reads the pair again if either file changed since it was last
// read, and reports whether a new certificate is now served. An error
// (a file missing, a pair that does not load) leaves the previous pair
// served; it is reported once per change of the files.
func (r *Reloader) Check() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen, err := r.stat()
	if err != nil {
		if r.missing {
			return false, nil
		}
		r.missing, r.seen = true, [2]os.FileInfo{}
		return false, err
	}
	r.missing = false
	if same(seen, r.seen) {
		return false, nil
	}
	r.seen = seen
	cert, err := tls.LoadX509KeyPair(r.certPath, r.keyPath)
	if err != nil {
		return false, fmt.Errorf("tlsconfig: reload %s and %s: %w", r.certPath, r.keyPath, err)
	}
	old := r.now.Load()
	if string(cert.Certificate[0]) == string(old.cert.Certificate[0]) {
		return false, nil // touched, not renewed
	}
	r.now.Store(&served{cert: &cert, previous: old.cert.Certificate[0]})
	return true, nil
}

// Watch calls Check every interval until ctx ends, logging each renewal
// served and each pair that failed to load.
func (r *Reloader) Watch(ctx context.Context, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed, err := r.Check()
		switch {
		case err != nil:
			log.Error("reading the renewed TLS certificate failed; still serving the previous one", "cert", r.certPath, "key", r.keyPath, "err", err)
		case changed:
			leaf := r.Certificate().Leaf
			log.Info("TLS certificate reloaded", "cert", r.certPath, "serial", leaf.SerialNumber.Text(16), "not_after", leaf.NotAfter)
		}
	}
}

func (r *Reloader) stat() ([2]os.FileInfo, error) {
	var seen [2]os.FileInfo
	for i, p := range []string{r.certPath, r.keyPath} {
		info, err := os.Stat(p)
		if err != nil {
			return seen, fmt.Errorf("tlsconfig: reload: %w", err)
		}
		seen[i] = info
	}
	return seen, nil
}

// same reports whether two looks at the pair saw the same files.
func same(a, b [2]os.FileInfo) bool {
	for i := range a {
		if a[i] == nil || b[i] == nil || !os.SameFile(a[i], b[i]) ||
			!a[i].ModTime().Equal(b[i].ModTime()) || a[i].Size() != b[i].Size() {
			return false
		}
	}
	return true
}
