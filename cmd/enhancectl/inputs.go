package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
)

// input is one image to work on and where its output goes.
type input struct {
	display string // as the user named it: a path or a URL
	path    string // a file; "" for a URL
	url     string
	// out is the output path, "-" for stdout, "" for a dry run or
	// until the answer tells its extension (a URL with none and no
	// --format), when stem is the path without it.
	out      string
	stem     string
	err      error // a failure found while planning: reported without a call
	stdoutMu *sync.Mutex
}

// shown is the output's name as reported.
func (in *input) shown() string {
	if in.out == "-" {
		return "stdout"
	}
	return in.out
}

// imageExts are the file extensions a folder's images have.
func imageExt(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jpg", ".jpeg", ".png", ".webp":
		return true
	}
	return false
}

// formatExt is the extension an output format is written with.
func formatExt(format string) (string, bool) {
	switch strings.ToLower(format) {
	case "png", "image/png":
		return ".png", true
	case "jpeg", "jpg", "image/jpeg":
		return ".jpg", true
	case "webp", "image/webp":
		return ".webp", true
	}
	return "", false
}

// canonicalFormat is --format as the API spells it.
func canonicalFormat(format string) string {
	if strings.EqualFold(format, "jpg") {
		return "jpeg"
	}
	return strings.ToLower(format)
}

// sameFormat says whether two extensions name one format (.jpeg, .JPG).
func sameFormat(a, b string) bool {
	fa, _ := formatExt(strings.TrimPrefix(a, "."))
	fb, _ := formatExt(strings.TrimPrefix(b, "."))
	return fa != "" && fa == fb
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")
}

// earlierOutput says a folder's file is an output of these commands, to
// be left out when the folder is worked on again.
func earlierOutput(name string) bool {
	stem := strings.TrimSuffix(name, filepath.Ext(name))
	for _, s := range []string{".enhanced", ".upscaled", ".colorized"} {
		if strings.HasSuffix(stem, s) {
			return true
		}
	}
	return false
}

// plan expands the arguments into inputs and gives each its output: next
// to it (a URL's in the current folder), or under -o. An output that
// exists (without --force), that is an input, or that two inputs would
// share makes its input fail before any call, so nothing is charged for
// it. Only a wrong command line is an error.
func plan(names []string, op operation, f *imageFlags) ([]*input, error) {
	var inputs []*input
	folder := false
	for _, name := range names {
		if isURL(name) {
			inputs = append(inputs, &input{display: name, url: name})
			continue
		}
		info, err := os.Stat(name)
		switch {
		case err != nil:
			inputs = append(inputs, &input{display: name, err: pathError(err)})
		case info.IsDir():
			folder = true
			found, err := folderImages(name)
			if err == nil && len(found) == 0 {
				err = errors.New("no .jpg, .jpeg, .png or .webp images in this folder")
			}
			if err != nil {
				inputs = append(inputs, &input{display: name, err: pathError(err)})
			}
			for _, p := range found {
				inputs = append(inputs, &input{display: p, path: p})
			}
		default:
			inputs = append(inputs, &input{display: name, path: name})
		}
	}
	toDir := folder || len(inputs) > 1 || strings.HasSuffix(f.out, "/") || strings.HasSuffix(f.out, string(filepath.Separator))
	if info, err := os.Stat(f.out); f.out != "" && err == nil && info.IsDir() {
		toDir = true
	}
	if f.out == "-" && (toDir || len(inputs) != 1) {
		return nil, usageError("-o - (stdout) takes one input")
	}
	if f.out == "-" && f.dryRun {
		return nil, usageError("-o - has nothing to write on a dry run")
	}
	var mu sync.Mutex
	sources := map[string]bool{}
	for _, in := range inputs {
		if in.path != "" {
			sources[absolute(in.path)] = true
		}
	}
	taken := map[string]string{}
	for _, in := range inputs {
		if in.err != nil || f.dryRun {
			continue
		}
		in.stdoutMu = &mu
		if f.out == "-" {
			in.out = "-"
			continue
		}
		target, known := outputName(in, op, f, toDir)
		if !known {
			in.stem = target // known after the answer; the write still never overwrites
			continue
		}
		in.out = target
		abs := absolute(target)
		switch {
		case sources[abs]:
			in.err = fmt.Errorf("its output %s would overwrite an input", target)
		case taken[abs] != "":
			in.err = fmt.Errorf("its output %s is also %s's", target, taken[abs])
		case !f.force && exists(target):
			in.err = fmt.Errorf("output %s exists (--force overwrites it)", target)
		}
		taken[abs] = in.display
	}
	return inputs, nil
}

// folderImages lists the images directly in dir, by name.
func folderImages(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var found []string
	for _, e := range entries {
		n := e.Name()
		if e.Type().IsRegular() && !strings.HasPrefix(n, ".") && imageExt(n) && !earlierOutput(n) {
			found = append(found, filepath.Join(dir, n))
		}
	}
	sort.Strings(found)
	return found, nil
}

// outputName is in's output path; without its extension, and known
// false, when only the answer will tell that.
func outputName(in *input, op operation, f *imageFlags, toDir bool) (string, bool) {
	var dir, base, ext string
	if in.path != "" {
		dir, base = filepath.Dir(in.path), filepath.Base(in.path)
		ext = filepath.Ext(base)
		if sniffed := sniffExt(in.path); sniffed != "" && !sameFormat(ext, sniffed) {
			ext = sniffed
		}
	} else {
		dir, base = ".", urlBase(in.url)
		if imageExt(base) {
			ext = filepath.Ext(base)
		}
	}
	stem := strings.TrimSuffix(base, filepath.Ext(base))
	if want, ok := formatExt(f.format); ok && !sameFormat(ext, want) {
		ext = want
	}
	switch {
	case f.out == "":
	case toDir:
		dir = f.out
	default:
		return f.out, true // -o FILE: the name as given, whatever its extension
	}
	return filepath.Join(dir, stem+"."+op.suffix) + ext, ext != ""
}

// urlBase is the last element of a URL's path, or "image".
func urlBase(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "image"
	}
	b := path.Base(u.Path)
	if b == "." || b == "/" || b == "" || strings.ContainsAny(b, `\:`) {
		return "image"
	}
	return b
}

// sniffExt is the extension a file's first bytes say it should have.
func sniffExt(p string) string {
	fh, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer fh.Close()
	head := make([]byte, 512)
	n, _ := io.ReadFull(fh, head)
	ext, _ := formatExt(http.DetectContentType(head[:n]))
	return ext
}

func absolute(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// pathError drops the path an *fs.PathError repeats: the report names it.
func pathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// write saves an answer to in's output: stdout, a new file (never
// replacing one that appeared meanwhile), or with --force a file renamed
// over the old one, so that a reader never sees half an image.
func (in *input) write(a imageAnswer, force bool, stdout io.Writer) error {
	if in.out == "-" {
		in.stdoutMu.Lock()
		defer in.stdoutMu.Unlock()
		_, err := stdout.Write(a.data)
		return err
	}
	if in.out == "" {
		ext, ok := formatExt(a.contentType)
		if !ok {
			ext = ".img"
		}
		in.out = in.stem + ext
	}
	target := in.out
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return pathError(err)
	}
	if !force {
		fh, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("output %s exists (--force overwrites it)", target)
		}
		if err != nil {
			return err
		}
		if _, err := fh.Write(a.data); err != nil {
			fh.Close()
			os.Remove(target)
			return err
		}
		return fh.Close()
	}
	tmp, err := os.CreateTemp(filepath.Dir(target), ".enhancectl-*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(a.data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), target)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}
