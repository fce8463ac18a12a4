package auth

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPasswordHash(t *testing.T) {
	t.Parallel()
	h, err := HashPassword("correct horse battery staple")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$"), h)
	require.NotContains(t, h, "correct horse")
	require.NoError(t, CheckPassword(h, "correct horse battery staple"))
	require.ErrorIs(t, CheckPassword(h, "correct horse battery stable"), ErrPasswordMismatch)

	h2, err := HashPassword("correct horse battery staple")
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "each hash has its own salt")

	require.Error(t, CheckPassword("$2a$10$bcrypt", "x"))
}
