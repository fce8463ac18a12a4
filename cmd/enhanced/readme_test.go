package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/apierror"
)

// The README's examples are a promise to a reader with a fresh clone and
// `make run`: TestReadmeExamples keeps it by running every shell block of
// README.md as written, against a fresh server, with only the ports
// changed. A block that cannot run here must say so with a comment on the
// line before it: <!-- not run: reason -->.

// readmePorts are the addresses `make run` serves on, which the examples
// name; the test's server listens on free ports instead.
const (
	readmeHTTPAddr = "localhost:8443"
	readmeGRPCAddr = "localhost:9443"
)

// shellBlock is one fenced shell block of a Markdown file.
type shellBlock struct {
	line   int    // line number of the opening fence
	text   string // the commands, as written
	notRun string // the reason given by a <!-- not run: ... --> comment before it
}

var (
	fenceOpen     = regexp.MustCompile("^```+\\s*([A-Za-z0-9_-]*)")
	notRunComment = regexp.MustCompile(`^<!--\s*not run:\s*(.*?)\s*-->$`)
	shellLangs    = map[string]bool{"sh": true, "bash": true, "shell": true}
)

// shellBlocks returns the shell blocks of a Markdown document, in order.
func shellBlocks(doc string) ([]shellBlock, error) {
	lines := strings.Split(doc, "\n")
	var blocks []shellBlock
	for i := 0; i < len(lines); i++ {
		m := fenceOpen.FindStringSubmatch(strings.TrimSpace(lines[i]))
		if m == nil {
			continue
		}
		end := i + 1
		for end < len(lines) && strings.TrimSpace(lines[end]) != "```" {
			end++
		}
		if end == len(lines) {
			return nil, fmt.Errorf("line %d: code block never closed", i+1)
		}
		if shellLangs[strings.ToLower(m[1])] {
			b := shellBlock{line: i + 1, text: strings.Join(lines[i+1:end], "\n") + "\n"}
			for k := i - 1; k >= 0; k-- {
				prev := strings.TrimSpace(lines[k])
				if prev == "" {
					continue
				}
				if c := notRunComment.FindStringSubmatch(prev); c != nil {
					b.notRun = c[1]
					if b.notRun == "" {
						return nil, fmt.Errorf("line %d: a not-run comment must give its reason", k+1)
					}
				}
				break
			}
			blocks = append(blocks, b)
		}
		i = end
	}
	return blocks, nil
}

func TestShellBlocks(t *testing.T) {
	t.Parallel()
	doc := "intro\n\n```sh\necho one\n```\n\n<!-- not run: needs the network -->\n\n```bash\necho two\n```\n" +
		"```json\n{}\n```\n<!-- not run: -->\n```sh\necho three\n```\n"
	_, err := shellBlocks(doc)
	require.ErrorContains(t, err, "must give its reason")

	blocks, err := shellBlocks(strings.Replace(doc, "<!-- not run: -->", "text", 1))
	require.NoError(t, err)
	require.Equal(t, []shellBlock{
		{line: 3, text: "echo one\n"},
		{line: 9, text: "echo two\n", notRun: "needs the network"},
		{line: 16, text: "echo three\n"},
	}, blocks)

	_, err = shellBlocks("```sh\necho never closed\n")
	require.Error(t, err)
}

var (
	// outputFile finds the files a block says it writes: curl -o/--output
	// and shell redirections (not 2> or >&).
	outputFile = regexp.MustCompile(`(?:^|\s)(?:-o|--output)\s+([^\s;&|]+)|(?:^|[^0-9&>])>\s*([^\s;&|]+)`)
	grpcurlPkg = regexp.MustCompile(`github\.com/fullstorydev/grpcurl/cmd/grpcurl@v[0-9.]+`)
	grpcLine   = regexp.MustCompile(`gRPC:\s+(\S+)`)
)

func outputFiles(script string) []string {
	var files []string
	for _, m := range outputFile.FindAllStringSubmatch(script, -1) {
		name := m[1] + m[2]
		if name != "" && name != "-" && !strings.HasPrefix(name, "/dev/") {
			files = append(files, name)
		}
	}
	return files
}

func TestOutputFiles(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"a.png", "b.json", "c.webp"},
		outputFiles("curl -D - x -o a.png\ngrpcurl y > b.json 2>/dev/null >&2\ncurl --output c.webp -s >/dev/null"))
}

func TestReadmeExamples(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	blocks, err := shellBlocks(string(readme))
	require.NoError(t, err)
	require.NotEmpty(t, blocks)

	// The examples run where a reader runs them: a folder with data/ (the
	// server's data folder: dev-api-key, tls/ca.pem) and the repository's
	// testdata/ beside it.
	work := t.TempDir()
	p := start(t, filepath.Join(work, "data"))
	testdata, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
	require.NoError(t, err)
	require.NoError(t, os.Symlink(testdata, filepath.Join(work, "testdata")))
	// bin/enhancectl, as make build leaves it.
	build := exec.Command("go", "build", "-tags", "nodynamic", "-o", filepath.Join(work, "bin", "enhancectl"), "../enhancectl")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "%s", out)

	u, err := url.Parse(p.base)
	require.NoError(t, err)
	m := grpcLine.FindStringSubmatch(p.output.String())
	require.NotNil(t, m, "the banner names the gRPC address:\n%s", p.output.String())
	_, grpcPort, err := net.SplitHostPort(m[1])
	require.NoError(t, err)
	replacer := strings.NewReplacer(
		readmeHTTPAddr, "localhost:"+u.Port(),
		readmeGRPCAddr, "localhost:"+grpcPort,
	)

	// go run fetches nothing: the module cache serves as the proxy.
	modcache, err := exec.Command("go", "env", "GOMODCACHE").Output()
	require.NoError(t, err)
	env := append(os.Environ(), "GOPROXY=file://"+filepath.ToSlash(filepath.Join(strings.TrimSpace(string(modcache)), "cache", "download")),
		// enhancectl login keeps its session here, not in the user's home.
		"XDG_CONFIG_HOME="+filepath.Join(work, "config"))

	ran := 0
	for _, b := range blocks {
		t.Run(fmt.Sprintf("line %d", b.line), func(t *testing.T) {
			if b.notRun != "" {
				t.Skipf("README line %d is marked not run: %s", b.line, b.notRun)
			}
			if pkg := grpcurlPkg.FindString(b.text); pkg != "" {
				requireGoRunnable(t, env, pkg)
			}
			ran++
			script := replacer.Replace(b.text)
			outputs := outputFiles(script)
			for _, f := range outputs {
				os.Remove(filepath.Join(work, f)) // a file from an earlier block proves nothing
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, "bash", "-e", "-u", "-o", "pipefail", "-c", script)
			cmd.Dir, cmd.Env = work, env
			out, err := cmd.CombinedOutput()
			t.Logf("README line %d:\n%s\noutput:\n%s", b.line, b.text, truncate(out, 4000))
			require.NoError(t, err, "the block at README line %d must succeed as written", b.line)
			for _, f := range outputs {
				checkOutput(t, filepath.Join(work, f))
			}
		})
	}
	require.NotZero(t, ran, "at least one README block must run")
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + fmt.Sprintf("\n... (%d bytes more)", len(b)-n)
}

// requireGoRunnable skips (or, in CI, fails) a block that runs pkg with
// `go run` unless pkg is already in the module cache: env makes the cache
// the only proxy, so the test never downloads. .ci/run fetches it first.
// The first run also compiles it, which may take a minute or two.
func requireGoRunnable(t *testing.T, env []string, pkg string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", pkg, "-version")
	cmd.Dir, cmd.Env = t.TempDir(), env
	if out, err := cmd.CombinedOutput(); err != nil {
		reason := fmt.Sprintf("%s is not in the Go module cache and this test does not download it "+
			"(`go run %s -version` once fetches it, as .ci/run does): %v\n%s", pkg, pkg, err, truncate(out, 1000))
		if os.Getenv("CI") != "" {
			t.Fatal(reason)
		}
		t.Skip(reason)
	}
}

// checkOutput checks that a file an example wrote is what its name says:
// an image of that format, or JSON (whose image, if it carries one as
// grpcurl prints it, decodes too).
func checkOutput(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	require.NoError(t, err, "the example must write %s", filepath.Base(path))
	require.NotEmpty(t, data, filepath.Base(path))
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png", ".jpg", ".jpeg", ".webp":
		img := decodeAs(t, data, map[string]string{".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}[ext], filepath.Base(path))
		checkNamedOutput(t, filepath.Base(path), img)
	case ".json":
		var v struct {
			Image *struct {
				ContentType string `json:"contentType"`
				Data        string `json:"data"`
			} `json:"image"`
		}
		require.True(t, json.Valid(data), "%s is JSON", filepath.Base(path))
		require.NoError(t, json.Unmarshal(data, &v))
		if v.Image != nil {
			raw, err := base64.StdEncoding.DecodeString(v.Image.Data)
			require.NoError(t, err)
			decodeAs(t, raw, strings.TrimPrefix(v.Image.ContentType, "image/"), filepath.Base(path)+" image.data")
		}
	default:
		t.Fatalf("%s: the README test does not know what a %q file should hold; teach checkOutput", filepath.Base(path), ext)
	}
}

func decodeAs(t *testing.T, data []byte, format, what string) image.Image {
	t.Helper()
	img, got, err := image.Decode(bytes.NewReader(data))
	require.NoError(t, err, "%s must be an image, not %q", what, truncate(data, 200))
	require.Equal(t, format, got, "%s is a %s", what, format)
	return img
}

// checkNamedOutput holds the README's own examples to what their
// comments promise.
func checkNamedOutput(t *testing.T, name string, img image.Image) {
	t.Helper()
	switch name {
	case "bird-2x.png": // bird.png is 288×288, upscaled ×2
		require.Equal(t, image.Pt(576, 576), img.Bounds().Size(), name)
	case "colorized.jpg": // from a grayscale photo: the hints must show
		require.True(t, hasColour(img), "%s must be in colour", name)
	case "enhanced.png", "enhanced.webp", "enhanced-form.jpg": // kodim23 and kodim05 keep their size
		require.Equal(t, image.Pt(768, 512), img.Bounds().Size(), name)
	}
}

// hasColour reports whether a clear share of img's pixels are far from gray.
func hasColour(img image.Image) bool {
	b := img.Bounds()
	coloured, total := 0, 0
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			hi, lo := max(r, g, bl), min(r, g, bl)
			if hi-lo > 0x2000 { // an eighth of the range
				coloured++
			}
			total++
		}
	}
	return coloured*10 > total
}

// TestReadmeAndAPIDocumentEveryFlag keeps the configuration tables in step
// with the binary: every flag `enhanced -h` lists is documented in the
// README and in docs/api.md.
func TestReadmeAndAPIDocumentEveryFlag(t *testing.T) {
	t.Parallel()
	out, _ := exec.Command(serverBinary, "-h").CombinedOutput()
	flags := regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(string(out), -1)
	require.NotEmpty(t, flags, "enhanced -h lists its flags:\n%s", out)
	for _, doc := range []string{"README.md", filepath.Join("docs", "api.md")} {
		text, err := os.ReadFile(filepath.Join("..", "..", doc))
		require.NoError(t, err)
		for _, f := range flags {
			require.Contains(t, string(text), "`--"+f[1]+"`", "%s documents --%s", doc, f[1])
		}
	}
}

// TestReadmeAndAPIListEveryErrorCode keeps the error tables whole: every
// code the server can send (apierror.Reasons) has a row in the README and
// in docs/api.md.
func TestReadmeAndAPIListEveryErrorCode(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{"README.md", filepath.Join("docs", "api.md")} {
		text, err := os.ReadFile(filepath.Join("..", "..", doc))
		require.NoError(t, err)
		rows := map[string]bool{}
		for _, line := range strings.Split(string(text), "\n") {
			if strings.HasPrefix(line, "|") {
				for _, m := range regexp.MustCompile("`([A-Z_]+)`").FindAllStringSubmatch(line, -1) {
					rows[m[1]] = true
				}
			}
		}
		for _, r := range apierror.Reasons {
			require.True(t, rows[string(r)], "%s has a table row for the error code %s", doc, r)
		}
	}
}
