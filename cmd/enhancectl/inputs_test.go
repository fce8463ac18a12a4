package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPlan: where outputs go, and which inputs fail before any call.
func TestPlan(t *testing.T) {
	t.Parallel()
	dir := copyImages(t, "kodim23.jpg", "bird.png")
	// A PNG named .jpg keeps the format its bytes say: the server answers
	// in the source's format.
	png, err := os.ReadFile(filepath.Join(dir, "bird.png"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "liar.jpg"), png, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "kodim23.enhanced.jpg"), nil, 0o644)) // an earlier output
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(dir, "empty"), 0o755))
	in := func(name string) string { return filepath.Join(dir, name) }

	tests := []struct {
		name  string
		op    string
		flags imageFlags
		args  []string
		want  []string // per input: its output, or "error: ..." with part of the reason
	}{
		{name: "next to the input", op: "enhance", args: []string{in("bird.png")}, want: []string{in("bird.enhanced.png")}},
		{name: "an existing output", op: "enhance", args: []string{in("kodim23.jpg")}, want: []string{"error: kodim23.enhanced.jpg exists (--force overwrites it)"}},
		{name: "--force", op: "enhance", flags: imageFlags{force: true}, args: []string{in("kodim23.jpg")}, want: []string{in("kodim23.enhanced.jpg")}},
		{name: "another format", op: "upscale", flags: imageFlags{format: "webp"}, args: []string{in("bird.png")}, want: []string{in("bird.upscaled.webp")}},
		{name: "jpg and jpeg are one", op: "upscale", flags: imageFlags{format: "jpeg"}, args: []string{in("kodim23.jpg")}, want: []string{in("kodim23.upscaled.jpg")}},
		{name: "the bytes tell the format", op: "colorize", args: []string{in("liar.jpg")}, want: []string{in("liar.colorized.png")}},
		{name: "a folder: its images only, earlier outputs left out", op: "colorize", args: []string{dir},
			want: []string{in("bird.colorized.png"), in("kodim23.colorized.jpg"), in("liar.colorized.png")}},
		{name: "a folder to -o", op: "enhance", flags: imageFlags{out: "out"}, args: []string{dir},
			want: []string{"out/bird.enhanced.png", "out/kodim23.enhanced.jpg", "out/liar.enhanced.png"}},
		{name: "-o FILE as given", op: "enhance", flags: imageFlags{out: "x/photo"}, args: []string{in("bird.png")}, want: []string{"x/photo"}},
		{name: "-o the input", op: "enhance", flags: imageFlags{out: in("bird.png"), force: true}, args: []string{in("bird.png")},
			want: []string{"error: would overwrite an input"}},
		{name: "an output that is an input", op: "enhance", flags: imageFlags{force: true}, args: []string{in("kodim23.jpg"), in("kodim23.enhanced.jpg")},
			want: []string{"error: would overwrite an input", in("kodim23.enhanced.enhanced.jpg")}},
		{name: "two inputs, one output", op: "enhance", flags: imageFlags{out: "out"}, args: []string{in("bird.png"), in("bird.png")},
			want: []string{"out/bird.enhanced.png", "error: is also " + in("bird.png") + "'s"}},
		{name: "a URL", op: "enhance", args: []string{"https://example.com/a/b/photo.webp?size=large"}, want: []string{"photo.enhanced.webp"}},
		{name: "a URL without an extension", op: "enhance", args: []string{"https://example.com/"}, want: []string{"(after the answer) image.enhanced"}},
		{name: "missing", op: "enhance", args: []string{in("missing.png")}, want: []string{"error: no such file or directory"}},
		{name: "an empty folder", op: "enhance", args: []string{in("empty")}, want: []string{"error: no .jpg, .jpeg, .png or .webp images in this folder"}},
		{name: "a dry run writes nothing", op: "enhance", flags: imageFlags{dryRun: true}, args: []string{in("kodim23.jpg")}, want: []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inputs, err := plan(tt.args, operationNamed(tt.op), &tt.flags)
			require.NoError(t, err)
			var got []string
			for _, in := range inputs {
				switch {
				case in.err != nil:
					got = append(got, "error: "+in.err.Error())
				case in.stem != "":
					got = append(got, "(after the answer) "+in.stem)
				default:
					got = append(got, in.out)
				}
			}
			require.Len(t, got, len(tt.want), "%q", got)
			for i := range got {
				if w, ok := strings.CutPrefix(tt.want[i], "error: "); ok {
					require.Contains(t, got[i], w)
					continue
				}
				require.Equal(t, tt.want[i], got[i])
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args []string
		want []string
		out  string
	}{
		{args: []string{"a.jpg", "-o", "out", "b.jpg"}, want: []string{"a.jpg", "b.jpg"}, out: "out"},
		{args: []string{"-o", "out", "a.jpg"}, want: []string{"a.jpg"}, out: "out"},
		{args: []string{"a.jpg", "--", "-o", "b.jpg"}, want: []string{"a.jpg", "-o", "b.jpg"}},
		{args: []string{"-o=x", "--"}, want: nil, out: "x"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			out := fs.String("o", "", "")
			got, err := parseFlags(fs, tt.args, &console{stderr: os.Stderr}, "test")
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.out, *out)
		})
	}
}

func TestParseHint(t *testing.T) {
	t.Parallel()
	h, err := parseHint("#c8202a:560,330:600, 460")
	require.NoError(t, err)
	require.Equal(t, "#c8202a", h.GetColor())
	require.Len(t, h.GetPoints(), 2)
	require.Equal(t, int32(460), h.GetPoints()[1].GetY())
	for _, bad := range []string{"#c8202a", "#c8202a:1", "#c8202a:x,2", ""} {
		_, err := parseHint(bad)
		require.Error(t, err, bad)
	}
}

// TestPasswordFromTerminal: at a terminal the password is asked for and
// read without echo; never from the arguments.
func TestPasswordFromTerminal(t *testing.T) {
	t.Parallel()
	var errOut strings.Builder
	con := &console{stderr: &errOut, stdinTerminal: true, readPassword: func() ([]byte, error) { return []byte("secret words"), nil }}
	pw, err := readPassword(con, "ann@example.com")
	require.NoError(t, err)
	require.Equal(t, "secret words", pw)
	require.Equal(t, "password for ann@example.com: \n", errOut.String())

	con = &console{stdin: strings.NewReader("piped words\r\nmore"), stderr: &errOut}
	pw, err = readPassword(con, "ann@example.com")
	require.NoError(t, err)
	require.Equal(t, "piped words", pw)
}
