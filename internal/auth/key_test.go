package auth

import (
	"bytes"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func testCodec(t testing.TB) *Codec {
	c, err := NewCodec(bytes.Repeat([]byte{7}, MinCodecSecret))
	require.NoError(t, err)
	return c
}

func TestNewTokenRoundTrips(t *testing.T) {
	t.Parallel()
	c := testCodec(t)
	k, err := c.New(APIKey)
	require.NoError(t, err)
	s := c.Format(k)
	require.Regexp(t, regexp.MustCompile(`^sie_[A-Za-z0-9]{16}_[A-Za-z0-9]{43}_[A-Za-z0-9]{6}$`), s)
	got, err := c.Parse(APIKey, s)
	require.NoError(t, err)
	require.Equal(t, k, got)
	require.Equal(t, k.ID, IDHint(s))

	other, err := c.New(APIKey)
	require.NoError(t, err)
	require.NotEqual(t, k.ID, other.ID)
	require.NotEqual(t, k.Secret, other.Secret)

	_, err = c.Parse(Session, s)
	require.ErrorIs(t, err, ErrUnauthenticated, "a key is not a session token")
	ses, err := c.New(Session)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(c.Format(ses), "ses_"))
	_, err = c.Parse(APIKey, c.Format(ses))
	require.ErrorIs(t, err, ErrUnauthenticated, "a session token is not a key")
}

func TestParseRejects(t *testing.T) {
	t.Parallel()
	c := testCodec(t)
	k, err := c.New(APIKey)
	require.NoError(t, err)
	good := c.Format(k)
	flip := func(s string, i int) string {
		c := byte('a')
		if s[i] == 'a' {
			c = 'b'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	// A look-alike with a valid checksum under another server secret.
	otherCodec, err := NewCodec(bytes.Repeat([]byte{8}, MinCodecSecret))
	require.NoError(t, err)
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
		{"forged elsewhere", otherCodec.Format(k)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := c.Parse(APIKey, tt.key)
			require.ErrorIs(t, err, ErrUnauthenticated)
		})
	}
}

func TestIDHintNeverReturnsSecret(t *testing.T) {
	t.Parallel()
	c := testCodec(t)
	k, err := c.New(APIKey)
	require.NoError(t, err)
	require.Equal(t, "", IDHint("nonsense"))
	require.NotContains(t, IDHint(c.Format(k)), k.Secret)
}

func TestNewCodecRefusesShortSecrets(t *testing.T) {
	t.Parallel()
	_, err := NewCodec([]byte("short"))
	require.Error(t, err)
}

func FuzzParseKey(f *testing.F) {
	c := testCodec(f)
	k, err := c.New(APIKey)
	require.NoError(f, err)
	f.Add(c.Format(k))
	f.Add("sie_")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := c.Parse(APIKey, s)
		if err != nil {
			require.ErrorIs(t, err, ErrUnauthenticated)
			return
		}
		// Anything accepted must re-render to exactly the input.
		require.Equal(t, s, c.Format(got))
	})
}
