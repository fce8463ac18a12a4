package account

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/store/storesqlite"
)

func TestRegister(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := storesqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	codec, err := auth.NewCodec(bytes.Repeat([]byte{1}, auth.MinCodecSecret))
	require.NoError(t, err)
	r, err := New(Config{Store: db, Codec: codec})
	require.NoError(t, err)

	reg, err := r.Register(ctx, "  ann@example.com ", "correct horse battery", "")
	require.NoError(t, err)
	require.Equal(t, "ann@example.com", reg.Account.Email)
	require.NoError(t, auth.CheckPassword(reg.Account.PasswordHash, "correct horse battery"))
	stored, err := db.APIKey(ctx, reg.Key.ID)
	require.NoError(t, err)
	tok, err := codec.Parse(auth.APIKey, reg.Secret)
	require.NoError(t, err)
	require.Equal(t, tok.SecretHash(), stored.SecretHash)
	require.Equal(t, auth.DefaultScopes, stored.Scopes)

	_, err = r.Register(ctx, "ANN@example.com", "another long password", "")
	require.ErrorIs(t, err, ErrEmailTaken)

	for _, tt := range []struct{ email, password string }{
		{"", "correct horse battery"},
		{"not-an-email", "correct horse battery"},
		{"Ann <ann2@example.com>", "correct horse battery"},
		{"bob@nodot", "correct horse battery"},
		{strings.Repeat("a", 250) + "@example.com", "correct horse battery"},
		{"bob@example.com", "short"},
		{"bob@example.com", strings.Repeat("p", 257)},
	} {
		_, err := r.Register(ctx, tt.email, tt.password, "")
		require.ErrorIs(t, err, ErrInvalid, tt.email)
		require.NotEmpty(t, apierror.ParamOf(err), "the problem names its field")
	}
	n, err := db.AccountCount(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "rejected registrations write nothing")
}
