package admission

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// BudgetShare is the part of the memory limit DefaultBudget gives to
// images. The rest is for what the weights do not count: the process
// itself, request and response bodies in flight (every place may hold a
// source of up to --max-body-bytes, and a finished image travels through
// gRPC and the gateway after its worker is free), and the collector's
// lag in handing memory back.
const BudgetShare = 0.5

// FallbackBudget is the budget when the memory limit cannot be read
// (not Linux, or /proc unreadable): enough for one of the largest images.
const FallbackBudget = 2 << 30

// DefaultBudget is BudgetShare of the memory limit read at start (see
// MemoryLimit), or FallbackBudget when it cannot be read; from says where
// the figure came from, for the start-up log.
func DefaultBudget() (budget int64, from string) {
	limit, from, ok := MemoryLimit(os.ReadFile)
	if !ok {
		return FallbackBudget, "fallback (memory limit unknown)"
	}
	return int64(float64(limit) * BudgetShare), fmt.Sprintf("%.0f%% of %s (%s)", BudgetShare*100, Bytes(limit), from)
}

// MemoryLimit is the memory this process may use: its cgroup's limit
// (cgroup v2 memory.max, or v1 memory.limit_in_bytes) when one is set,
// and otherwise the machine's physical memory (MemTotal in
// /proc/meminfo); the smaller of the two when both are known. GOMEMLIMIT
// is not consulted: it is a target for the collector, not a limit, and
// the budget is set beside it (--memory-budget). readFile is os.ReadFile
// outside tests.
func MemoryLimit(readFile func(string) ([]byte, error)) (limit int64, from string, ok bool) {
	if b, err := readFile("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if v, found := strings.CutPrefix(sc.Text(), "MemTotal:"); found {
				if kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64); err == nil && kb > 0 {
					limit, from, ok = kb<<10, "physical memory", true
				}
			}
		}
	}
	for _, path := range cgroupLimitFiles(readFile) {
		b, err := readFile(path)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		n, err := strconv.ParseInt(v, 10, 64)
		// "max" (v2) and a number near 2^63 (v1) both mean no limit.
		if err != nil || n <= 0 || n >= 1<<60 {
			continue
		}
		if !ok || n < limit {
			limit, from, ok = n, "cgroup limit "+path, true
		}
	}
	return limit, from, ok
}

// cgroupLimitFiles lists where this process's cgroup memory limit may
// be: under its own cgroup's path (from /proc/self/cgroup) and at the
// root of the mount, which is where a container sees its own cgroup.
// MemoryLimit takes the smallest limit any of them sets.
func cgroupLimitFiles(readFile func(string) ([]byte, error)) []string {
	var v2, v1 []string
	if b, err := readFile("/proc/self/cgroup"); err == nil {
		for line := range strings.Lines(string(b)) {
			// hierarchy-ID:controllers:path
			parts := strings.SplitN(strings.TrimSpace(line), ":", 3)
			if len(parts) != 3 || strings.Contains(parts[2], "..") {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				v2 = append(v2, "/sys/fs/cgroup"+strings.TrimSuffix(parts[2], "/")+"/memory.max")
			case strings.Contains(","+parts[1]+",", ",memory,"):
				v1 = append(v1, "/sys/fs/cgroup/memory"+strings.TrimSuffix(parts[2], "/")+"/memory.limit_in_bytes")
			}
		}
	}
	files := append(v2, "/sys/fs/cgroup/memory.max")
	files = append(files, v1...)
	return append(files, "/sys/fs/cgroup/memory/memory.limit_in_bytes")
}

// Bytes writes n the way operators and callers read memory: 1.5 GiB,
// 300 MiB, 900 KiB.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 1, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 0, 64) + " MiB"
	default:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 0, 64) + " KiB"
	}
}
