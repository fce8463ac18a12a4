package auth

import (
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewKeyRoundTrips(t *testing.T) {
	t.Parallel()
	k, err := NewKey()
	require.NoError(t, err)
	s := k.String()
	require.Regexp(t, regexp.MustCompile(`^sie_[A-Za-z0-9]{16}_[A-Za-z0-9]{43}_[A-Za-z0-9]{6}$`), s)
	got, err := ParseKey(s)
	require.NoError(t, err)
	require.Equal(t, k, got)
	require.Equal(t, k.ID, KeyIDHint(s))

	other, err := NewKey()
	require.NoError(t, err)
	require.NotEqual(t, k.ID, other.ID)
	require.NotEqual(t, k.Secret, other.Secret)
}

func TestParseKeyRejects(t *testing.T) {
	t.Parallel()
	k, err := NewKey()
	require.NoError(t, err)
	good := k.String()
	flip := func(s string, i int) string {
		c := byte('a')
		if s[i] == 'a' {
			c = 'b'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	tests := []struct {
		name string
		key  string
	}{
		{"empty", ""},
		{"wrong prefix", "xyz" + good[3:]},
		{"truncated", good[:len(good)-1]},
		{"extended", good + "a"},
		{"typo in id", flip(good, 6)},
		{"typo in secret", flip(good, 30)},
		{"typo in checksum", flip(good, len(good)-2)},
		{"separator replaced", good[:20] + "-" + good[21:]},
		{"non-base62", strings.Replace(good, good[10:11], "!", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseKey(tt.key)
			require.ErrorIs(t, err, ErrUnauthenticated)
		})
	}
}

func TestKeyIDHintNeverReturnsSecret(t *testing.T) {
	t.Parallel()
	k, err := NewKey()
	require.NoError(t, err)
	require.Equal(t, "", KeyIDHint("nonsense"))
	require.NotContains(t, KeyIDHint(k.String()), k.Secret)
}

func FuzzParseKey(f *testing.F) {
	k, err := NewKey()
	require.NoError(f, err)
	f.Add(k.String())
	f.Add("sie_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseKey(s)
		if err != nil {
			require.ErrorIs(t, err, ErrUnauthenticated)
			return
		}
		// Anything accepted must re-render to exactly the input.
		require.Equal(t, s, got.String())
	})
}
