package gateway

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLookupRoute(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		method, path, input, body string
	}{
		{http.MethodPost, "/v1/enhance", "EnhanceRequest", "*"},
		{http.MethodPost, "/v1/colorize", "ColorizeRequest", "*"},
		{http.MethodGet, "/v1/keys", "ListKeysRequest", ""},
		{http.MethodPost, "/v1/keys", "CreateKeyRequest", "*"},
		{http.MethodGet, "/v1/keys/abc", "GetKeyRequest", ""},
		{http.MethodPatch, "/v1/keys/abc", "UpdateKeyRequest", "*"},
		{http.MethodPost, "/v1/keys/abc:rotate", "RotateKeyRequest", "*"},
		{http.MethodDelete, "/v1/account", "DeleteAccountRequest", "*"},
		{http.MethodGet, "/v1/usage", "GetUsageRequest", ""},
		{http.MethodGet, "/v1/enhance", "", ""},
		{http.MethodPost, "/v1/keys/abc", "", ""},
		{http.MethodPost, "/v1/keys/:rotate", "", ""},
		{http.MethodPost, "/v1/enhance/", "", ""},
		{http.MethodPost, "/v1/sharpen", "", ""},
	} {
		rt := lookupRoute(tt.method, tt.path)
		if tt.input == "" {
			require.Nil(t, rt, "%s %s", tt.method, tt.path)
			continue
		}
		require.NotNil(t, rt, "%s %s", tt.method, tt.path)
		require.Equal(t, tt.input, string(rt.input.Name()))
		require.Equal(t, tt.body, rt.body)
	}
}

func TestCheckQuery(t *testing.T) {
	t.Parallel()
	usage := lookupRoute(http.MethodGet, "/v1/usage")
	getKey := lookupRoute(http.MethodGet, "/v1/keys/abc")
	pricing := lookupRoute(http.MethodGet, "/v1/pricing")
	create := lookupRoute(http.MethodPost, "/v1/keys")
	for _, tt := range []struct {
		name   string
		rt     *route
		query  string
		param  string
		detail string
	}{
		{"fits", usage, "pageSize=3&pageToken=abc", "", ""},
		{"proto names", usage, "page_size=3", "", ""},
		{"none", pricing, "", "", ""},
		{"not a whole number", usage, "pageSize=abc", "pageSize", "query parameter pageSize must be a whole number, like 50"},
		{"empty number", usage, "pageSize=", "pageSize", "must be a whole number"},
		{"slip of case", usage, "pagesize=3", "pagesize", `unknown query parameter "pagesize": did you mean pageSize?`},
		{"unknown", usage, "colour=red", "colour", "GET /v1/usage takes pageSize, pageToken"},
		{"given twice", usage, "pageSize=1&pageSize=2", "pageSize", "pageSize is given 2 times"},
		{"under both names", usage, "pageSize=1&page_size=2", "pageSize", `pageSize is given twice, as "pageSize" and "page_size"`},
		{"route without parameters", pricing, "plan=free", "plan", "GET /v1/pricing takes no query parameters"},
		{"path field", getKey, "keyId=other", "keyId", "keyId is given by the path"},
		{"JSON call", create, "displayName=x", "displayName", "displayName goes in the JSON body"},
		{"JSON call, unknown name", create, "x=1", "x", `unknown query parameter "x"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q, err := url.ParseQuery(tt.query)
			require.NoError(t, err)
			check := checkQuery
			if tt.rt.body == "*" {
				check = checkNoQuery
			}
			what := tt.rt.method + " /v1/" + map[*route]string{usage: "usage", getKey: "keys/abc", pricing: "pricing", create: "keys"}[tt.rt]
			f := check(q, tt.rt, what)
			if tt.detail == "" {
				require.Nil(t, f)
				return
			}
			require.NotNil(t, f)
			require.Equal(t, tt.param, f.param)
			require.Contains(t, f.detail, tt.detail)
			requireUserWords(t, f.detail)
		})
	}
}

func TestAllowedMethodsNameEveryBindingOfAPath(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"POST"}, allowedMethods("/v1/enhance"))
	require.ElementsMatch(t, []string{"GET", "PATCH", "DELETE"}, allowedMethods("/v1/keys/k1"))
	// The mux also reads k1:rotate as a key id, so every key method is
	// served there.
	require.ElementsMatch(t, []string{"GET", "PATCH", "POST", "DELETE"}, allowedMethods("/v1/keys/k1:rotate"))
	require.Empty(t, allowedMethods("/v1/nothing"))
}
