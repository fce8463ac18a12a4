package main

import (
	"context"
	"image"
	_ "image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var grpcPort = regexp.MustCompile(`gRPC:\s+\d+\.\d+\.\d+\.\d+:(\d+)`)

// grpcAddr is the server's gRPC address from its banner, as localhost,
// the name its development certificate carries.
func (p *process) grpcAddr(t *testing.T) string {
	t.Helper()
	m := grpcPort.FindStringSubmatch(p.output.String())
	require.NotNil(t, m, "the banner names the gRPC address:\n%s", p.output.String())
	return "localhost:" + m[1]
}

func pythonWithGRPC() (string, bool) {
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import grpc, google.protobuf").Run() == nil {
			return py, true
		}
	}
	return "", false
}

func nodeWithGRPC() (string, bool) {
	node, err := exec.LookPath("node")
	if err != nil {
		return "", false
	}
	if _, err := os.Stat(filepath.Join("..", "..", "examples", "node", "node_modules", "@grpc", "grpc-js")); err != nil {
		return "", false
	}
	return node, true
}

// TestGRPCExamples runs examples/python/enhance.py (the generated stubs in
// gen/python) and examples/node/enhance.js against the real binary, as
// their comments tell a user to: an enhance through the unary method with
// a raised receive limit, a ×4 upscale whose answer is over 4 MiB through
// the streaming method at the default limit, and a wrong key.
func TestGRPCExamples(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir())
	addr := p.grpcAddr(t)
	examples := []struct {
		name, what string
		find       func() (string, bool)
		script     string
	}{
		{"python", "python3 with Debian's python3-grpcio and python3-protobuf", pythonWithGRPC, filepath.Join("examples", "python", "enhance.py")},
		{"node", "node with examples/node/node_modules (make clients)", nodeWithGRPC, filepath.Join("examples", "node", "enhance.js")},
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			interp := requireTool(t, ex.find, ex.what)
			script, err := filepath.Abs(filepath.Join("..", "..", ex.script))
			require.NoError(t, err)
			dir := t.TempDir()
			run := func(key string, args ...string) (string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
				defer cancel()
				cmd := exec.CommandContext(ctx, interp, append([]string{script}, args...)...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(),
					"SMART_IMAGE_ENHANCEMENT_API_KEY="+key, "ENHANCE_SERVER="+addr, "ENHANCE_CA="+p.caPath())
				out, err := cmd.CombinedOutput()
				return string(out), err
			}
			images, err := filepath.Abs(filepath.Join("..", "..", "testdata", "images"))
			require.NoError(t, err)

			out, err := run(p.key(t), filepath.Join(images, "bird.png"), "enhanced.png")
			require.NoError(t, err, out)
			require.Contains(t, out, "wrote enhanced.png: 288x288, 1 credit(s) charged")
			requirePNG(t, filepath.Join(dir, "enhanced.png"), 288, 288)

			out, err = run(p.key(t), "--scale", "4", filepath.Join(images, "kodim23.jpg"), "big.png")
			require.NoError(t, err, out)
			require.Contains(t, out, "wrote big.png: 3072x2048")
			info, err := os.Stat(filepath.Join(dir, "big.png"))
			require.NoError(t, err)
			require.Greater(t, info.Size(), int64(4<<20), "over a default client's limit, received through the stream")
			requirePNG(t, filepath.Join(dir, "big.png"), 3072, 2048)

			out, err = run("sie_wrong_key", filepath.Join(images, "bird.png"), "nothing.png")
			require.Error(t, err, "a failure exits non-zero")
			require.Contains(t, out, "UNAUTHENTICATED: invalid or missing API key")
			require.False(t, strings.Contains(out, "Traceback"), out)
		})
	}
}

func requirePNG(t *testing.T, path string, w, h int) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	img, format, err := image.Decode(f)
	require.NoError(t, err, "a valid image")
	require.Equal(t, "png", format)
	require.Equal(t, image.Rect(0, 0, w, h), img.Bounds())
}
