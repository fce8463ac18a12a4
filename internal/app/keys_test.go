package app

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/config"
)

func key(k string) map[string]string { return map[string]string{"x-api-key": k} }

// status of an authenticated cheap call made with an API key.
func (s *testServer) keyWorks(t *testing.T, k string) int {
	t.Helper()
	resp := s.call(t, http.MethodGet, "/v1/account", nil, key(k), nil)
	resp.Body.Close()
	return resp.StatusCode
}

func TestRESTKeyLifecycle(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)

	// Sign-in failures look the same whether or not the email exists.
	resp := s.call(t, http.MethodPost, "/v1/sessions", map[string]any{"email": "nobody@example.com", "password": "wrong password!"}, nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	unknown := readProblem(t, resp)
	token := s.signUpAndIn(t, "owner@example.com")
	resp = s.call(t, http.MethodPost, "/v1/sessions", map[string]any{"email": "owner@example.com", "password": "wrong password!"}, nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	wrong := readProblem(t, resp)
	require.Equal(t, unknown.Detail, wrong.Detail)
	require.Equal(t, "BAD_CREDENTIALS", wrong.Code)

	// The first key is listed without its secret.
	var list struct {
		APIKeys []apiKey `json:"apiKeys"`
	}
	resp = s.call(t, http.MethodGet, "/v1/keys", nil, bearer(token), &list)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, list.APIKeys, 1)
	require.Equal(t, "default", list.APIKeys[0].DisplayName)
	require.Empty(t, list.APIKeys[0].Secret)
	require.Equal(t, "sie_"+list.APIKeys[0].id(), list.APIKeys[0].Prefix)

	// Create a managing key, use it, see its last use.
	var created struct {
		APIKey apiKey `json:"apiKey"`
	}
	resp = s.call(t, http.MethodPost, "/v1/keys", map[string]any{
		"displayName": "ci", "scopes": []string{"keys:manage", "images:upscale"},
		"expireTime": time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339),
	}, bearer(token), &created)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	ci := created.APIKey
	require.NotNil(t, ci.ExpireTime)
	require.Equal(t, http.StatusOK, s.keyWorks(t, ci.Secret))

	// Bad inputs are 400s that write nothing.
	for name, body := range map[string]map[string]any{
		"no scopes":     {"displayName": "x"},
		"unknown scope": {"displayName": "x", "scopes": []string{"images:everything"}},
		"no name":       {"scopes": []string{"images:upscale"}},
		"past expiry":   {"displayName": "x", "scopes": []string{"images:upscale"}, "expireTime": "2020-01-01T00:00:00Z"},
	} {
		resp = s.call(t, http.MethodPost, "/v1/keys", body, bearer(token), nil)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
		readProblem(t, resp)
	}
	// A keys:manage key cannot grant a scope it lacks.
	resp = s.call(t, http.MethodPost, "/v1/keys", map[string]any{"displayName": "x", "scopes": []string{"images:enhance"}}, key(ci.Secret), nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	require.Contains(t, readProblem(t, resp).Detail, "images:enhance")

	// Rename with the managing key; get shows it.
	var got struct {
		APIKey apiKey `json:"apiKey"`
	}
	resp = s.call(t, http.MethodPatch, "/v1/keys/"+ci.id(), map[string]any{"displayName": "ci runner"}, key(ci.Secret), &got)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ci runner", got.APIKey.DisplayName)
	resp = s.call(t, http.MethodGet, "/v1/keys/"+ci.id(), nil, bearer(token), &got)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "ci runner", got.APIKey.DisplayName)
	require.Empty(t, got.APIKey.Secret)

	// Rotate with a grace period: both secrets work; rotate again with none:
	// only the newest does.
	var rotated struct {
		APIKey apiKey `json:"apiKey"`
	}
	resp = s.call(t, http.MethodPost, "/v1/keys/"+ci.id()+":rotate", map[string]any{"gracePeriod": "3600s"}, bearer(token), &rotated)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	second := rotated.APIKey.Secret
	require.NotEqual(t, ci.Secret, second)
	require.NotNil(t, rotated.APIKey.PreviousSecretExpireTime)
	require.Equal(t, http.StatusOK, s.keyWorks(t, ci.Secret))
	require.Equal(t, http.StatusOK, s.keyWorks(t, second))
	resp = s.call(t, http.MethodPost, "/v1/keys/"+ci.id()+":rotate", map[string]any{"gracePeriod": "691200s"}, bearer(token), nil)
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "grace periods stop at 7 days")
	readProblem(t, resp)
	resp = s.call(t, http.MethodPost, "/v1/keys/"+ci.id()+":rotate", map[string]any{}, bearer(token), &rotated)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	third := rotated.APIKey.Secret
	require.Equal(t, http.StatusUnauthorized, s.keyWorks(t, ci.Secret))
	require.Equal(t, http.StatusUnauthorized, s.keyWorks(t, second), "a rotation without grace ends the old secret at once")
	require.Equal(t, http.StatusOK, s.keyWorks(t, third))

	// Another account cannot see or touch this account's keys: 404, not 403.
	other := s.signUpAndIn(t, "other@example.com")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{http.MethodGet, "/v1/keys/" + ci.id(), nil},
		{http.MethodPatch, "/v1/keys/" + ci.id(), map[string]any{"displayName": "mine"}},
		{http.MethodPost, "/v1/keys/" + ci.id() + ":rotate", map[string]any{}},
		{http.MethodDelete, "/v1/keys/" + ci.id(), nil},
	} {
		resp = s.call(t, c.method, c.path, c.body, bearer(other), nil)
		require.Equal(t, http.StatusNotFound, resp.StatusCode, c.method+" "+c.path)
		require.Equal(t, "KEY_NOT_FOUND", readProblem(t, resp).Code)
	}
	require.Equal(t, http.StatusOK, s.keyWorks(t, third), "untouched")

	// A key without keys:manage is refused key management, naming the scope.
	resp = s.call(t, http.MethodGet, "/v1/keys", nil, key(s.createKey(t, token, "reader", "usage:read")), nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Contains(t, readProblem(t, resp).Detail, "keys:manage")

	// Revocation is immediate.
	resp = s.call(t, http.MethodDelete, "/v1/keys/"+ci.id(), nil, bearer(token), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, s.keyWorks(t, third))
	resp = s.call(t, http.MethodGet, "/v1/keys/"+ci.id(), nil, bearer(token), nil)
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
	readProblem(t, resp)

	// The audit log has every key event and the failed attempts, newest first.
	var audit struct {
		AuditEvents []struct {
			Kind, Key, ClientAddress, Reason string
		} `json:"auditEvents"`
		NextPageToken string `json:"nextPageToken"`
	}
	resp = s.call(t, http.MethodGet, "/v1/audit-events?pageSize=100", nil, bearer(token), &audit)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var kinds []string
	for _, e := range audit.AuditEvents {
		kinds = append(kinds, e.Kind)
		require.Equal(t, "127.0.0.1", e.ClientAddress)
		if e.Kind == "auth.failed" {
			require.Equal(t, "keys/"+ci.id(), e.Key)
		}
	}
	for _, k := range []string{"key.created", "key.renamed", "key.rotated", "key.revoked", "auth.failed", "session.created", "signin.failed"} {
		require.Contains(t, kinds, k)
	}
	resp = s.call(t, http.MethodGet, "/v1/audit-events?pageSize=2", nil, bearer(token), &audit)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, audit.AuditEvents, 2)
	require.NotEmpty(t, audit.NextPageToken)
	resp = s.call(t, http.MethodGet, "/v1/audit-events?pageSize=2&pageToken="+audit.NextPageToken, nil, bearer(token), &audit)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, kinds[2], audit.AuditEvents[0].Kind)

	// Sign-out ends the session.
	resp = s.call(t, http.MethodDelete, "/v1/sessions/current", nil, bearer(token), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	resp = s.call(t, http.MethodGet, "/v1/keys", nil, bearer(token), nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	readProblem(t, resp)

	// Secrets never reach the database or the log.
	s.stop(t)
	db := readDataDir(t, s.cfg.DataDir)
	for _, secret := range []string{ci.Secret, second, third, token} {
		body := secret[21:64]
		require.NotContains(t, db, body)
		require.NotContains(t, s.logs.String(), body)
	}
}

func TestRESTExpiryAndGraceEndInRealTime(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	token := s.signUpAndIn(t, "owner@example.com")
	var created struct {
		APIKey apiKey `json:"apiKey"`
	}
	resp := s.call(t, http.MethodPost, "/v1/keys", map[string]any{
		"displayName": "short", "scopes": []string{"keys:manage"},
		"expireTime": time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano),
	}, bearer(token), &created)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	short := created.APIKey.Secret
	long := s.createKey(t, token, "long", "keys:manage")
	require.Equal(t, http.StatusOK, s.keyWorks(t, short))
	var rotated struct {
		APIKey apiKey `json:"apiKey"`
	}
	longID := strings.Split(long, "_")[1]
	resp = s.call(t, http.MethodPost, "/v1/keys/"+longID+":rotate", map[string]any{"gracePeriod": "1.5s"}, bearer(token), &rotated)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, http.StatusOK, s.keyWorks(t, long), "in its grace period")
	time.Sleep(1600 * time.Millisecond)
	require.Equal(t, http.StatusUnauthorized, s.keyWorks(t, short), "expired")
	require.Equal(t, http.StatusUnauthorized, s.keyWorks(t, long), "used after its grace period")
	require.Equal(t, http.StatusOK, s.keyWorks(t, rotated.APIKey.Secret))
}

func TestRevocationReachesASecondInstance(t *testing.T) {
	t.Parallel()
	a := startServer(t, nil)
	b := startServer(t, func(c *config.Config) { c.DataDir = a.cfg.DataDir })
	token := a.signUpAndIn(t, "owner@example.com")
	k := a.createKey(t, token, "shared", "keys:manage")
	require.Equal(t, http.StatusOK, b.keyWorks(t, k), "the other instance accepts (and caches) the key")
	resp := a.call(t, http.MethodDelete, "/v1/keys/"+strings.Split(k, "_")[1], nil, bearer(token), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, a.keyWorks(t, k), "at once on the instance that revoked")
	// The other instance trusts its cache for auth.CacheTTL at most. The
	// bound below is far past it, so that only a revocation that never
	// arrives fails, not a slow machine.
	eventually(t, auth.CacheTTL+30*time.Second, "the revoked key still works on the other instance", func() bool {
		return b.keyWorks(t, k) == http.StatusUnauthorized
	})
}

func TestAccountExportAndErasure(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	token := s.signUpAndIn(t, "leaving@example.com")
	k := s.createKey(t, token, "ci", "keys:manage")

	resp := s.call(t, http.MethodGet, "/v1/account/export", nil, key(k), nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode, "export needs a session")
	require.Equal(t, "SESSION_REQUIRED", readProblem(t, resp).Code)
	var export map[string]any
	resp = s.call(t, http.MethodGet, "/v1/account/export", nil, bearer(token), &export)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw, err := json.Marshal(export)
	require.NoError(t, err)
	require.Contains(t, string(raw), "leaving@example.com")
	require.Contains(t, string(raw), `"displayName":"ci"`)
	require.Contains(t, string(raw), "key.created")
	require.NotContains(t, string(raw), k[21:64])
	require.NotContains(t, string(raw), "argon2")

	resp = s.call(t, http.MethodDelete, "/v1/account", map[string]any{"password": "not the password"}, bearer(token), nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, "WRONG_PASSWORD", readProblem(t, resp).Code)
	require.Equal(t, http.StatusOK, s.keyWorks(t, k), "a refused erasure changes nothing")

	resp = s.call(t, http.MethodDelete, "/v1/account", map[string]any{"password": testPassword}, bearer(token), nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, s.keyWorks(t, k), "keys go with the account")
	resp = s.call(t, http.MethodGet, "/v1/keys", nil, bearer(token), nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "so do sessions")
	readProblem(t, resp)
	resp = s.call(t, http.MethodPost, "/v1/sessions", map[string]any{"email": "leaving@example.com", "password": testPassword}, nil, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	readProblem(t, resp)
	s.stop(t)
	require.False(t, strings.Contains(readDataDir(t, s.cfg.DataDir), "leaving@example.com"), "the email is gone from the database files")
}

func TestFailedAuthenticationsAreThrottledPerAddress(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	for range 20 {
		require.Equal(t, http.StatusUnauthorized, s.keyWorks(t, "sie_not_a_key"))
	}
	resp := s.call(t, http.MethodGet, "/v1/account", nil, key("sie_not_a_key"), nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the 21st failure is still answered, then the address is blocked")
	resp.Body.Close()
	resp = s.call(t, http.MethodGet, "/v1/account", nil, key(s.key), nil)
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "even a good key, from this address, for a while")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Equal(t, "RATE_LIMITED", readProblem(t, resp).Code)
}

func TestGRPCKeyManagement(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	token := s.signUpAndIn(t, "grpc@example.com")
	other := s.signUpAndIn(t, "other@example.com")
	withBearer := func(tok string) context.Context {
		return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
	}
	keys := enhancev1.NewKeyServiceClient(s.grpc)
	created, err := keys.CreateKey(withBearer(token), &enhancev1.CreateKeyRequest{DisplayName: "grpc", Scopes: []string{"keys:manage"}})
	require.NoError(t, err)
	id := strings.TrimPrefix(created.GetApiKey().GetName(), "keys/")
	list, err := keys.ListKeys(withKey(created.GetApiKey().GetSecret()), &enhancev1.ListKeysRequest{})
	require.NoError(t, err)
	require.Len(t, list.GetApiKeys(), 2)
	for _, k := range list.GetApiKeys() {
		require.Empty(t, k.GetSecret())
	}
	_, err = keys.GetKey(withBearer(other), &enhancev1.GetKeyRequest{KeyId: id})
	require.Equal(t, codes.NotFound, status.Code(err))
	// A keys:manage key of one account cannot touch another account's key.
	othersKey, err := keys.CreateKey(withBearer(other), &enhancev1.CreateKeyRequest{DisplayName: "theirs", Scopes: []string{"keys:manage"}})
	require.NoError(t, err)
	othersID := strings.TrimPrefix(othersKey.GetApiKey().GetName(), "keys/")
	mine := withKey(created.GetApiKey().GetSecret())
	_, err = keys.GetKey(mine, &enhancev1.GetKeyRequest{KeyId: othersID})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = keys.UpdateKey(mine, &enhancev1.UpdateKeyRequest{KeyId: othersID, DisplayName: "mine now"})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = keys.RotateKey(mine, &enhancev1.RotateKeyRequest{KeyId: othersID})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = keys.DeleteKey(mine, &enhancev1.DeleteKeyRequest{KeyId: othersID})
	require.Equal(t, codes.NotFound, status.Code(err))
	_, err = keys.ListKeys(withKey(othersKey.GetApiKey().GetSecret()), &enhancev1.ListKeysRequest{})
	require.NoError(t, err, "the other account's key still works")
	_, err = keys.DeleteKey(withBearer(other), &enhancev1.DeleteKeyRequest{KeyId: id})
	require.Equal(t, codes.NotFound, status.Code(err))
	rotated, err := keys.RotateKey(withBearer(token), &enhancev1.RotateKeyRequest{KeyId: id, GracePeriod: durationpb.New(time.Minute)})
	require.NoError(t, err)
	_, err = keys.ListKeys(withKey(created.GetApiKey().GetSecret()), &enhancev1.ListKeysRequest{})
	require.NoError(t, err, "old secret within its grace period")
	_, err = keys.DeleteKey(withKey(rotated.GetApiKey().GetSecret()), &enhancev1.DeleteKeyRequest{KeyId: id})
	require.NoError(t, err)
	_, err = keys.ListKeys(withKey(rotated.GetApiKey().GetSecret()), &enhancev1.ListKeysRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err))
	_, err = enhancev1.NewAccountServiceClient(s.grpc).ExportAccount(withKey(s.key), &enhancev1.ExportAccountRequest{})
	require.Equal(t, codes.PermissionDenied, status.Code(err))
	_, err = enhancev1.NewImageServiceClient(s.grpc).Enhance(withBearer(token), &enhancev1.EnhanceRequest{Image: testImage(t, "bird.png")})
	require.Equal(t, codes.PermissionDenied, status.Code(err), "image calls need an API key, not a session")
}
