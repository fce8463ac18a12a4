package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLogHandler: auto is text at a terminal and JSON elsewhere; text and
// json are what they say wherever the log goes.
func TestLogHandler(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		format   string
		terminal bool
		json     bool
	}{
		{"auto", true, false},
		{"auto", false, true},
		{"text", false, false},
		{"json", true, true},
	} {
		var b bytes.Buffer
		h := logHandler(tt.format, &b, tt.terminal)
		require.NoError(t, h.Handle(t.Context(), newRecord("hello")))
		var fields map[string]any
		isJSON := json.Unmarshal(b.Bytes(), &fields) == nil
		require.Equal(t, tt.json, isJSON, "%s at a terminal: %v: %s", tt.format, tt.terminal, b.String())
		if !tt.json {
			require.Contains(t, b.String(), "msg=hello")
		}
	}
}

// TestLogsAreJSONInProduction: the binary with its stderr in a pipe, as a
// container or service manager runs it, logs JSON without being told, and
// a REST call's access line carries the client's request id.
func TestLogsAreJSONInProduction(t *testing.T) {
	t.Parallel()
	p := start(t, t.TempDir())
	client := p.client(t)
	req, err := http.NewRequest(http.MethodGet, p.base+"/v1/nowhere", nil)
	require.NoError(t, err)
	req.Header.Set("X-Request-Id", "json-log-check")
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)

	var access map[string]any
	require.Eventually(t, func() bool {
		for line := range strings.Lines(p.output.String()) {
			if strings.Contains(line, `"request_id":"json-log-check"`) && json.Unmarshal([]byte(line), &access) == nil {
				return true
			}
		}
		return false
	}, time.Minute, 20*time.Millisecond, "a JSON access line:\n%s", p.output.String())
	require.Equal(t, "access", access["msg"])
	require.Equal(t, "INFO", access["level"])
	require.EqualValues(t, 404, access["status"])
	require.Equal(t, "/v1/nowhere", access["path"])
	served := false
	for line := range strings.Lines(p.output.String()) {
		var fields map[string]any
		if json.Unmarshal([]byte(line), &fields) == nil && fields["msg"] == "serving" {
			served = true
		}
	}
	require.True(t, served, "the start-up lines are JSON too")
}

func newRecord(msg string) slog.Record {
	return slog.NewRecord(time.Now(), slog.LevelInfo, msg, 0)
}
