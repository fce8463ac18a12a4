//go:build ignore

// genpasswords writes commonpasswords/passwords.txt, the list of common
// passwords registration refuses: every password of zxcvbn's password
// frequency list (zxcvbn 4.4.2's data/passwords.txt, 47,023 passwords
// from leaked password sets, ranked by frequency), as the Go port
// github.com/trustelem/zxcvbn v1.0.1 ships it (MIT licence, in
// commonpasswords/LICENSE). Each is folded as account.fold folds what it
// checks, and the list is sorted in byte order for binary search.
//
// Run it with `go generate ./internal/account`; it fetches the module
// through the Go module proxy and checks its hash, so the output is the
// same on every machine.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

const (
	module = "github.com/trustelem/zxcvbn@v1.0.1"
	// sum is the module's hash as go.sum would record it.
	sum = "h1:mp4JFtzdDYGj9WYSD3KQSkwwUumWNFzXaAjckaTYpsc="
)

func main() {
	out, err := exec.Command("go", "mod", "download", "-json", module).Output()
	check(err)
	var dl struct{ Dir, Sum, Error string }
	check(json.Unmarshal(out, &dl))
	if dl.Error != "" {
		check(fmt.Errorf("%s: %s", module, dl.Error))
	}
	if dl.Sum != sum {
		check(fmt.Errorf("%s: hash %s, want %s", module, dl.Sum, sum))
	}
	data, err := os.ReadFile(filepath.Join(dl.Dir, "data", "passwords.txt"))
	check(err)
	seen := map[string]bool{}
	var list []string
	for line := range strings.Lines(string(data)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		// As account.fold: NFKC, then Unicode case folding.
		p := cases.Fold().String(norm.NFKC.String(fields[0]))
		if !seen[p] {
			seen[p] = true
			list = append(list, p)
		}
	}
	slices.Sort(list)
	var b bytes.Buffer
	for _, p := range list {
		b.WriteString(p)
		b.WriteByte('\n')
	}
	check(os.WriteFile(filepath.Join("commonpasswords", "passwords.txt"), b.Bytes(), 0o644))
	license, err := os.ReadFile(filepath.Join(dl.Dir, "LICENSE.txt"))
	check(err)
	check(os.WriteFile(filepath.Join("commonpasswords", "LICENSE"), license, 0o644))
	fmt.Printf("commonpasswords/passwords.txt: %d passwords from %s\n", len(list), module)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "genpasswords:", err)
		os.Exit(1)
	}
}
