package idempotency

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestValidKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"a", "order-2026-12-05/1", "~ !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}", strings.Repeat("k", MaxKeyBytes)} {
		require.True(t, ValidKey(k), "%q", k)
	}
	for _, k := range []string{"", strings.Repeat("k", MaxKeyBytes+1), "commande-n°1", "tab\there", "new\nline", "\x7f"} {
		require.False(t, ValidKey(k), "%q", k)
	}
}

func TestRequestHashTellsMethodsAndFieldsApart(t *testing.T) {
	t.Parallel()
	a, err := RequestHash("/s/A", wrapperspb.String("x"))
	require.NoError(t, err)
	again, err := RequestHash("/s/A", wrapperspb.String("x"))
	require.NoError(t, err)
	require.Equal(t, a, again)
	other, err := RequestHash("/s/B", wrapperspb.String("x"))
	require.NoError(t, err)
	require.NotEqual(t, a, other)
	changed, err := RequestHash("/s/A", wrapperspb.String("y"))
	require.NoError(t, err)
	require.NotEqual(t, a, changed)
}
