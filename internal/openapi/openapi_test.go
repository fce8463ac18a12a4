package openapi

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestJSONIsTheDocument(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(JSON(), &doc))
	require.Equal(t, "3.1.0", doc["openapi"])
	// Status codes stay strings, anchors are expanded.
	paths := doc["paths"].(map[string]any)
	responses := paths["/v1/keys"].(map[string]any)["get"].(map[string]any)["responses"].(map[string]any)
	require.Contains(t, responses, "200")
	headers := responses["200"].(map[string]any)["headers"].(map[string]any)
	require.Contains(t, headers, "X-RateLimit-Remaining")
	// Keys keep the order written: paths as the source lists them.
	require.Less(t, strings.Index(string(JSON()), `"/v1/enhance"`), strings.Index(string(JSON()), `"/healthz"`))
}

func TestToJSON(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
	}{
		{"types", "a: 1\nb: 1.5\nc: true\ne: x\nf: \"2\"\ng: [s, \"null\"]\n", `{"a":1,"b":1.5,"c":true,"e":"x","f":"2","g":["s","null"]}`},
		{"order", "z: 1\na: 2\n", `{"z":1,"a":2}`},
		{"int keys are strings", "200: ok\n", `{"200":"ok"}`},
		{"anchors", "a: &x {k: [1, 2]}\nb: *x\n", `{"a":{"k":[1,2]},"b":{"k":[1,2]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := toJSON([]byte(tt.in))
			require.NoError(t, err)
			var a, b any
			require.NoError(t, json.Unmarshal(got, &a))
			require.NoError(t, json.Unmarshal([]byte(tt.want), &b))
			require.Equal(t, b, a)
			require.JSONEq(t, tt.want, string(got))
			if tt.name == "order" {
				require.Less(t, strings.Index(string(got), `"z"`), strings.Index(string(got), `"a"`))
			}
		})
	}
	for _, bad := range []string{"a: 1\na: 2\n", "<<: {a: 1}\n", "a: [\n", "a: !!binary aGk=\n", "a: {description: one, two}\n"} {
		_, err := toJSON([]byte(bad))
		require.Error(t, err, bad)
	}
}
