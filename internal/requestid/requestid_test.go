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
	for _, good := range []string{"a", "3f2b8c1e-9d4a-4c1b-8e2f-0a1b2c3d4e5f", "01HZX3K8QW.span_7", "UPPER", strings.Repeat("a", 64)} {
		require.True(t, Valid(good), good)
	}
	for _, bad := range []string{"", "has space", "new\nline", "quote\"", "ünï", "semi;colon", strings.Repeat("a", 65)} {
		require.False(t, Valid(bad), bad)
	}
}
