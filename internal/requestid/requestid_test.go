package requestid

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRequestID(t *testing.T) {
	t.Parallel()
	id := New()
	require.True(t, Valid(id), id)
	require.NotEqual(t, id, New())
	require.Equal(t, id, From(With(context.Background(), id)))
	require.Equal(t, "", From(context.Background()))
	for _, bad := range []string{"", "has space", "new\nline", "UPPER", strings.Repeat("a", 65)} {
		require.False(t, Valid(bad), bad)
	}
}
