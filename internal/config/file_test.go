package config

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// writeSettings writes a settings file in a test's folder and returns its path.
func writeSettings(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "enhance.yaml")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o600))
	return path
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFileSettings(t *testing.T) {
	t.Parallel()
	path := writeSettings(t, `# every kind of setting
http-addr: ":1443"
grpc-addr: 127.0.0.1:1444
metrics-addr:
database-url: postgres://enhance:hunter2@db:5432/enhance
fetch-allow-private: true
workers: 3
max-body-bytes: 1048576
request-timeout: 45s
fetch-ports: [443, 8443]
fetch-allow-cidrs:
  - 10.1.2.0/24
  - fd00::/8
memory-budget: 1GiB
log-format: json
`)
	c, err := Load([]string{"--config", path}, env(nil), io.Discard)
	require.NoError(t, err)
	require.Equal(t, path, c.File)
	require.Equal(t, ":1443", c.HTTPAddr)
	require.Equal(t, "127.0.0.1:1444", c.GRPCAddr)
	require.Empty(t, c.MetricsAddr, "an empty value turns metrics off, as --metrics-addr '' does")
	require.Equal(t, "postgres://enhance:hunter2@db:5432/enhance", c.DatabaseURL)
	require.True(t, c.FetchAllowPrivate)
	require.Equal(t, 3, c.Workers)
	require.Equal(t, 12, c.Queue, "the queue follows the file's workers")
	require.Equal(t, int64(1<<20), c.MaxBodyBytes)
	require.Equal(t, 45*time.Second, c.RequestTimeout)
	require.Equal(t, []uint16{443, 8443}, c.FetchPorts)
	require.Len(t, c.FetchAllowCIDRs, 2)
	require.Equal(t, int64(1<<30), c.MemoryBudget)
	require.Equal(t, "json", c.LogFormat)
	require.Equal(t, "./data", c.DataDir, "what the file leaves out keeps its default")

	// ENHANCE_CONFIG names the file when --config does not.
	c, err = Load(nil, env(map[string]string{"ENHANCE_CONFIG": path}), io.Discard)
	require.NoError(t, err)
	require.Equal(t, 3, c.Workers)

	// An empty file sets nothing.
	c, err = Load([]string{"--config", writeSettings(t, "# nothing yet\n")}, env(nil), io.Discard)
	require.NoError(t, err)
	require.Equal(t, ":8443", c.HTTPAddr)
}

func TestFilePrecedence(t *testing.T) {
	t.Parallel()
	path := writeSettings(t, "http-addr: 127.0.0.1:1\ngrpc-addr: 127.0.0.1:2\ndata-dir: /from/file\nworkers: 5\n")
	c, err := Load([]string{"--config", path, "--http-addr", "127.0.0.1:3"},
		env(map[string]string{"ENHANCE_GRPC_ADDR": "127.0.0.1:4", "ENHANCE_HTTP_ADDR": "127.0.0.1:5"}), io.Discard)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:3", c.HTTPAddr, "a flag wins over its twin and the file")
	require.Equal(t, "127.0.0.1:4", c.GRPCAddr, "the twin wins over the file")
	require.Equal(t, "/from/file", c.DataDir, "the file wins over the default")
	require.Equal(t, 5, c.Workers)

	// --config wins over ENHANCE_CONFIG.
	other := writeSettings(t, "workers: 7\n")
	c, err = Load([]string{"--config", other}, env(map[string]string{"ENHANCE_CONFIG": path}), io.Discard)
	require.NoError(t, err)
	require.Equal(t, 7, c.Workers)
}

func TestFileProblemsAreReportedTogether(t *testing.T) {
	t.Parallel()
	path := writeSettings(t, strings.Join([]string{
		"workers: many",                                  // 1: wrong type
		"http_addr: \":1\"",                              // 2: unknown, with a hint
		"request-timeout: 30",                            // 3: a duration needs its unit
		"fetch-allow-private: yes",                       // 4: YAML 1.2: a string, not a bool
		"database-url: mysql://enhance:hunter2@db/x",     // 5: bad scheme; the password stays secret
		"redis-url: [\"redis://:hunter3@cache:6379/0\"]", // 6: wrong shape; still secret
		"fetch-ports: [80, http]",                        // 7: bad item
		"max-frames: 0",                                  // 8: refused by Validate
		"log-format: xml",                                // 9: refused by Validate, hidden by the flag below
		"shutdown-timeout: -1s",                          // 10: refused by Validate, hidden by its twin
		"dev-account: true",                              // 11
		"dev-account: false",                             // 12: given twice
		"config: other.yaml",                             // 13: no nesting
		"max-source-pixels: 1.5",                         // 14: a number, not whole
		"postgres://enhance:hunter4@db/enhance: 1",       // 15: not a flag name, and a secret
		"queue: -3",                                      // 16: refused
	}, "\n")+"\n")
	_, err := Load([]string{"--config", path, "--log-format", "json", "--max-jpeg-scans", "lots"},
		env(map[string]string{"ENHANCE_SHUTDOWN_TIMEOUT": "5s", "ENHANCE_MEMORY_BUDGET": "plenty"}), io.Discard)
	require.Error(t, err)
	msg := err.Error()
	for _, want := range []string{
		path + ":1: workers must be a whole number",
		path + `:2: unknown key "http_addr" (did you mean http-addr?)`,
		path + ":3: request-timeout must be a duration like 30s",
		path + `:4: fetch-allow-private must be true or false`,
		"--database-url must be a URL like postgres://host/... (--database-url from " + path + ":5)",
		path + ":6: redis-url must be a single value",
		path + `:7: fetch-ports "80,http"`,
		"--max-jpeg-scans and --max-frames must be positive (--max-frames from " + path + ":8)",
		"--max-jpeg-scans \"lots\"",
		"ENHANCE_MEMORY_BUDGET=\"plenty\"",
		path + ":12: dev-account given again (first at " + path + ":11)",
		path + ":13: config: a settings file cannot name another",
		path + ":14: max-source-pixels must be a whole number",
		path + ":15: a key must be a flag name",
		path + `:16: queue "-3": must not be negative`,
	} {
		require.Contains(t, msg, want)
	}
	require.NotContains(t, msg, "--log-format", "the flag's value hides the file's and is good")
	require.NotContains(t, msg, "--shutdown-timeout", "the twin's value hides the file's and is good")
	for _, secret := range []string{"hunter2", "hunter3", "hunter4"} {
		require.NotContains(t, msg, secret, "a password in the file is never repeated")
	}
}

func TestFileErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, text, want string
	}{
		{"not a mapping", "- http-addr\n", ":1: must be a mapping of flag names to values"},
		{"a scalar", "postgres://u:hunter2@db/x\n", "must be a mapping"},
		{"broken YAML", "http-addr: \":1\"\n  grpc-addr: [\n", "yaml: line"},
		{"nested", "tls:\n  cert: a.pem\n", `unknown key "tls"`},
		{"mapping value", "http-addr:\n  host: x\n", "http-addr must be a single value"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load([]string{"--config", writeSettings(t, tt.text)}, env(nil), io.Discard)
			require.ErrorContains(t, err, tt.want)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
	_, err := Load([]string{"--config", filepath.Join(t.TempDir(), "missing.yaml")}, env(nil), io.Discard)
	require.ErrorContains(t, err, "missing.yaml")
	_, err = Load(nil, env(map[string]string{"ENHANCE_CONFIG": filepath.Join(t.TempDir(), "gone.yaml")}), io.Discard)
	require.ErrorContains(t, err, "gone.yaml", "a file named by the environment must exist too")
}

func TestFlagValueProblemsAreReportedTogether(t *testing.T) {
	t.Parallel()
	_, err := Load([]string{"--workers", "many", "--fetch-timeout", "soon", "--log-format", "xml", "--dev-account=maybe"},
		env(map[string]string{"ENHANCE_QUEUE": "long"}), io.Discard)
	require.Error(t, err)
	for _, want := range []string{`--workers "many"`, `--fetch-timeout "soon"`, "--log-format must be auto, text or json", `--dev-account "maybe"`, `ENHANCE_QUEUE="long"`} {
		require.ErrorContains(t, err, want)
	}
	require.NotContains(t, err.Error(), "(--log-format from", "a value from the command line is named by its flag already")
	require.NotContains(t, err.Error(), "--workers must be positive", "a refused value leaves the setting as it was")
	require.NotContains(t, err.Error(), "--fetch-timeout must be positive")

	_, err = Load([]string{"--queue", "-1"}, env(nil), io.Discard)
	require.ErrorContains(t, err, `--queue "-1": must not be negative`, "not taken for an unset queue")
	_, err = Load(nil, env(map[string]string{"ENHANCE_QUEUE": "-1"}), io.Discard)
	require.ErrorContains(t, err, "ENHANCE_QUEUE")

	_, err = Load(nil, env(map[string]string{"ENHANCE_WORKERS": "0"}), io.Discard)
	require.ErrorContains(t, err, "--workers must be positive (--workers from ENHANCE_WORKERS)")
}

func TestUsageListsTheFlagsAsDefined(t *testing.T) {
	t.Parallel()
	var out strings.Builder
	_, err := Load([]string{"-h"}, env(nil), &out)
	require.Error(t, err)
	require.Contains(t, out.String(), "Usage of enhanced:")
	require.Contains(t, out.String(), "-config string")
	require.Contains(t, out.String(), "-workers int")
	require.Contains(t, out.String(), "-request-timeout duration")
	require.Contains(t, out.String(), `(default ":8443")`)
	require.NotContains(t, out.String(), "panic")
}
