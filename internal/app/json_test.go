package app

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/credits"
)

// missingFields lists the fields of md absent from the JSON object v,
// recursively into set messages and list elements. Only fields that track
// presence on their own (proto3 optional scalars) may be absent; an unset
// message is present as null. Well-known types are leaves.
func missingFields(md protoreflect.MessageDescriptor, v map[string]any, path string) []string {
	var missing []string
	fields := md.Fields()
	for i := range fields.Len() {
		f := fields.Get(i)
		name := f.JSONName()
		got, ok := v[name]
		if !ok {
			if f.HasPresence() && f.Message() == nil {
				continue
			}
			missing = append(missing, path+name)
			continue
		}
		if f.Message() == nil || f.IsMap() || strings.HasPrefix(string(f.Message().FullName()), "google.protobuf.") {
			continue
		}
		switch x := got.(type) {
		case map[string]any:
			missing = append(missing, missingFields(f.Message(), x, path+name+".")...)
		case []any:
			for j, e := range x {
				if m, ok := e.(map[string]any); ok {
					missing = append(missing, missingFields(f.Message(), m, fmt.Sprintf("%s%s[%d].", path, name, j))...)
				}
			}
		}
	}
	return missing
}

// TestRESTJSONHasEveryField calls every method that answers JSON, in the
// state where its answer has the most zero and empty values, and checks
// each documented field is in the JSON ("creditsRemaining": 0 on an
// exhausted account, "entries": [] before any charge). Every JSON method
// of every service must be exercised.
func TestRESTJSONHasEveryField(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	checked := map[protoreflect.FullName]bool{}
	check := func(resp *http.Response, out proto.Message) {
		t.Helper()
		a := readAnswer(resp)
		require.NoError(t, a.err)
		require.Equal(t, http.StatusOK, a.status, "%s", a.body)
		var v map[string]any
		require.NoError(t, json.Unmarshal(a.body, &v))
		md := out.ProtoReflect().Descriptor()
		require.Empty(t, missingFields(md, v, ""), "%s", md.FullName())
		checked[md.FullName()] = true
	}

	// A new account: no charges yet, then every credit spent.
	email := "zero@example.com"
	check(s.call(t, http.MethodPost, "/v1/accounts", map[string]any{"email": email, "password": testPassword}, nil, nil), &enhancev1.CreateAccountResponse{})
	check(s.call(t, http.MethodPost, "/v1/sessions", map[string]any{"email": email, "password": testPassword}, nil, nil), &enhancev1.CreateSessionResponse{})
	token := s.signIn(t, email)
	session := bearer(token)
	usage := s.call(t, http.MethodGet, "/v1/usage", nil, session, nil)
	check(usage, &enhancev1.GetUsageResponse{})
	acct, err := s.app.Store().AccountByEmail(context.Background(), email)
	require.NoError(t, err)
	c, err := s.app.ledger.Reserve(context.Background(), acct.ID, "k", credits.OpEnhance, "all", credits.Plans["free"].MonthlyCredits)
	require.NoError(t, err)
	require.NoError(t, s.app.ledger.Commit(context.Background(), c))
	var exhausted struct {
		CreditsRemaining *int `json:"creditsRemaining"`
		CreditsUsed      *int `json:"creditsUsed"`
	}
	resp := s.call(t, http.MethodGet, "/v1/usage", nil, session, &exhausted)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotNil(t, exhausted.CreditsRemaining, "creditsRemaining is present at 0")
	require.Zero(t, *exhausted.CreditsRemaining)

	check(s.call(t, http.MethodGet, "/v1/pricing", nil, nil, nil), &enhancev1.GetPricingResponse{})
	check(s.call(t, http.MethodGet, "/v1/account", nil, session, nil), &enhancev1.GetAccountResponse{})
	check(s.call(t, http.MethodGet, "/v1/account/export", nil, session, nil), &enhancev1.ExportAccountResponse{})
	check(s.call(t, http.MethodGet, "/v1/audit-events", nil, session, nil), &enhancev1.ListAuditEventsResponse{})

	var created struct {
		APIKey apiKey `json:"apiKey"`
	}
	resp = s.call(t, http.MethodPost, "/v1/keys", map[string]any{"displayName": "k", "scopes": []string{"usage:read"}}, session, &created)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	id := created.APIKey.id()
	check(s.call(t, http.MethodPost, "/v1/keys", map[string]any{"displayName": "k2", "scopes": []string{"usage:read"}}, session, nil), &enhancev1.CreateKeyResponse{})
	check(s.call(t, http.MethodGet, "/v1/keys", nil, session, nil), &enhancev1.ListKeysResponse{})
	check(s.call(t, http.MethodGet, "/v1/keys/"+id, nil, session, nil), &enhancev1.GetKeyResponse{})
	check(s.call(t, http.MethodPatch, "/v1/keys/"+id, map[string]any{"displayName": "renamed"}, session, nil), &enhancev1.UpdateKeyResponse{})
	check(s.call(t, http.MethodPost, "/v1/keys/"+id+":rotate", map[string]any{"gracePeriod": "0s"}, session, nil), &enhancev1.RotateKeyResponse{})
	check(s.call(t, http.MethodDelete, "/v1/keys/"+id, nil, session, nil), &enhancev1.DeleteKeyResponse{})
	check(s.call(t, http.MethodDelete, "/v1/sessions/current", nil, session, nil), &enhancev1.DeleteSessionResponse{})
	check(s.call(t, http.MethodDelete, "/v1/account", map[string]any{"password": testPassword}, bearer(s.signIn(t, email)), nil), &enhancev1.DeleteAccountResponse{})

	// Every method whose answer is JSON was checked; the image methods
	// answer raw image bytes, and the stream methods are gRPC only.
	for _, service := range []string{"ImageService", "AccountService", "KeyService", "UsageService"} {
		d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName("smartimage.enhance.v1." + service))
		require.NoError(t, err)
		methods := d.(protoreflect.ServiceDescriptor).Methods()
		for i := range methods.Len() {
			if methods.Get(i).IsStreamingServer() {
				continue // gRPC only: the stream methods have no REST route
			}
			out := methods.Get(i).Output()
			if out.Fields().ByJSONName("image") != nil && out.Fields().ByJSONName("image").Message().FullName() == "google.api.HttpBody" {
				continue
			}
			require.True(t, checked[out.FullName()], "%s answers JSON and was not checked", out.FullName())
		}
	}
}
