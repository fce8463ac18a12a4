package auth

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReason(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"malformed", errFormat, ReasonMalformed},
		{"checksum", errChecksum, ReasonMalformed},
		{"wrapped", fmt.Errorf("ctx: %w", refused(ReasonRevoked, "key revoked")), ReasonRevoked},
		{"scope", &ScopeError{Scope: ScopeKeysManage}, ReasonMissingScope},
		{"session required", ErrSessionRequired, ReasonMissingScope},
		{"other", errors.New("disk"), ReasonOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, Reason(tt.err))
		})
	}
	err := refused(ReasonWrongSecret, "wrong secret")
	require.ErrorIs(t, err, ErrUnauthenticated)
	require.Equal(t, "auth: unauthenticated: wrong secret", err.Error())
}
