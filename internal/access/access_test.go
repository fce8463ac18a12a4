package access

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCoversNamesEveryMissingMethod(t *testing.T) {
	t.Parallel()
	table := Table{"/pkg.S/A": {Public: true}}
	require.NoError(t, table.Covers(map[string][]string{"pkg.S": {"A"}}))
	err := table.Covers(map[string][]string{"pkg.S": {"A", "B"}, "pkg.T": {"C"}})
	require.EqualError(t, err, "access: no rule for /pkg.S/B, /pkg.T/C")
	rule, ok := table.Lookup("/pkg.S/A")
	require.True(t, ok)
	require.True(t, rule.Public)
	_, ok = table.Lookup("/pkg.S/B")
	require.False(t, ok)
}
