package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/smartimage/enhance/internal/engine"
)

// memory reports the peak resident memory of one general enhancement of
// a 24-megapixel JPEG, measured in a fresh child process so that nothing
// else the harness did counts.
func (h *harness) memory(b *strings.Builder) {
	dir, _ := os.MkdirTemp("", "memory")
	defer os.RemoveAll(dir)
	src := h.load(filepath.Join(h.images, "camera", "Kleiber_by_Lukas_Baubkus.jpg"))
	big := engine.Resize(src, 6000, 4000, engine.Lanczos3, runtime.NumCPU())
	data, err := h.engine.Encode(big, engine.EncodeOptions{Format: engine.JPEG, Quality: 92})
	if err != nil {
		fail(err)
	}
	path := filepath.Join(dir, "24mp.jpg")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		fail(err)
	}
	b.WriteString("\n## Memory\n\nPeak resident memory (VmHWM) of a fresh process that reads a 6000×4000 (24 MP) JPEG, runs the pipeline and writes a JPEG, with `GOMEMLIMIT` unset and set; the float32 planes of one 24 MP RGB image are 288 MB.\n\n| pipeline | GOMEMLIMIT | peak RSS |\n|---|---|---|\n")
	for _, kind := range []string{"general", "landscape"} {
		for _, limit := range []string{"", "1GiB"} {
			cmd := exec.Command(os.Args[0], "-images", h.images, "-only", "memory-child", "-child-input", path, "-child-type", kind)
			cmd.Env = append(os.Environ(), "GOMEMLIMIT="+limit)
			out, err := cmd.CombinedOutput()
			if err != nil {
				fail(fmt.Errorf("memory child: %v: %s", err, out))
			}
			show := limit
			if show == "" {
				show = "unset"
			}
			fmt.Fprintf(b, "| %s | %s | %s |\n", kind, show, strings.TrimSpace(string(out)))
		}
	}
}

// memoryChild is the measured process: it prints its VmHWM.
func (h *harness) memoryChild(path, kind string) {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err)
	}
	debug.FreeOSMemory()
	if _, err := h.engine.Enhance(context.Background(), data, engine.EnhanceOptions{Type: engine.EnhancementType(kind), EncodeOptions: engine.EncodeOptions{Format: engine.JPEG}}); err != nil {
		fail(err)
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail(err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			kb, _ := strconv.Atoi(strings.Fields(line)[1])
			fmt.Printf("%.0f MB\n", float64(kb)/1024)
		}
	}
}
