package app

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// readDataDir concatenates every file under dir except the development
// key file, to check that no secret was written anywhere else.
func readDataDir(t *testing.T, dir string) string {
	t.Helper()
	var all []byte
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() == DevKeyFile {
			return err
		}
		b, err := os.ReadFile(path)
		all = append(all, b...)
		return err
	})
	require.NoError(t, err)
	return string(all)
}
