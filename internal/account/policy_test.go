package account

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/store"
	"github.com/smartimage/enhance/internal/store/storesqlite"
	"github.com/smartimage/enhance/internal/throttle"
)

func TestPasswordPolicy(t *testing.T) {
	t.Parallel()
	p := newPasswordPolicy()
	require.Greater(t, len(p.common), 10_000, "a real list, not a sample")
	require.Contains(t, commonPasswordsText, "\npassword1234\n")
	email := "ann.smith@example.com"
	for _, tt := range []struct {
		password, detail string
	}{
		{"aaaaaaaaaaaa", `the password is "a" repeated; choose another`},
		{"password1234", "the password is on a list of common passwords; choose another"},
		{"PassWord1234", "on a list of common passwords"},
		{"monkey123456!", "a common password with digits or symbols added"},
		{"Summer2024!!", "a common password with digits or symbols added"},
		{"            ", "only spaces"},
		{"\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000\u3000", "only spaces"},
		{"ann.smith@example.com", "the password is your email address"},
		{"Ann.Smith@Example.com", "the password is your email address"},
		{"ann.smith@example.com2024", "your email address with digits or symbols added"},
		{"ann.smith", "at least 12 characters long (it has 9)"},
		{"ANN.SMITH!!!", "the password is the name in your email address with digits or symbols added"},
		{"abcabcabcabcab", `the password is "abc" repeated`},
		{"123456789012", "consecutive characters"},
		{"lkjihgfedcba", "consecutive characters"},
		{"\U0001F600\U0001F600\U0001F601\U0001F602\U0001F603", "at least 12 characters long (it has 5)"},
		{"tab\tseparated words", "control character (U+0009)"},
		{strings.Repeat("\U0001F600\U0001F601", 129), "at most 256 characters and 1024 bytes"},
		{strings.Repeat("x", 1025), "at most 256 characters and 1024 bytes"},
	} {
		err := p.check(tt.password, email)
		require.ErrorIs(t, err, ErrInvalid, tt.password)
		require.Contains(t, err.Error(), tt.detail, tt.password)
		require.Equal(t, "password", apierror.ParamOf(err))
	}
	for _, good := range []string{
		"correct horse battery staple",
		"long enough password",
		hundredEmoji(), // 400 bytes, 100 characters
		"Tr0ub4dor&3 is too short? no",
		"caf\u00e9 cr\u00e8me br\u00fbl\u00e9e",
		"2 be or not 2 be",
		"ABCDEFGHJKLMNPQRSTUVWXYZ23", // the shape of a development account's password
	} {
		require.NoError(t, p.check(good, email), good)
	}
}

func TestEmailRules(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, want string }{
		{"  Ann@Example.COM ", "Ann@example.com"},
		{"Jose\u0301@example.com", "Jos\u00e9@example.com"},
		{"jos\u00e9@example.com", "jos\u00e9@example.com"},
		{"dev@localhost", "dev@localhost"},
		// The domain as DNS maps it (UTS 46 non-transitional): ß and ς
		// stay, capitals and full-width letters do not.
		{"User@Straße.DE", "User@straße.de"},
		{"user@strasse.de", "user@strasse.de"},
		{"user@σολος.gr", "user@σολος.gr"},
		{"user@Ｅxample.com", "user@example.com"},
		// The local part as typed: its key (emailKey) folds it.
		{"Straße@example.com", "Straße@example.com"},
		{"STRASSE@example.com", "STRASSE@example.com"},
		// Zero-width non-joiner and joiner, which Persian and Indic
		// words need.
		{"می‌خواهم@example.com", "می‌خواهم@example.com"},
		{"क्‍ष@example.com", "क्‍ष@example.com"},
	} {
		got, err := validateEmail(tt.in)
		require.NoError(t, err, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
	for _, tt := range []struct{ in, detail string }{
		{"", "email is required"},
		{"evil\u202egro.example@example.com", "invisible or control character (U+202E)"},
		{"ann\u200b@example.com", "invisible or control character (U+200B)"},
		{"ann\x00@example.com", "invisible or control character (U+0000)"},
		{"ann smith@example.com", "contains a space"},
		{"nope", "is not an email address"},
		{strings.Repeat("a", 250) + "@example.com", "longer than 254 characters"},
	} {
		_, err := validateEmail(tt.in)
		require.ErrorIs(t, err, ErrInvalid, tt.in)
		require.Contains(t, err.Error(), tt.detail, tt.in)
		require.Equal(t, "email", apierror.ParamOf(err))
	}
}

type fixture struct {
	svc *Service
	db  *storesqlite.Store
	now *time.Time
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	db, err := storesqlite.Open(context.Background(), filepath.Join(t.TempDir(), "db"))
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	codec, err := auth.NewCodec(bytes.Repeat([]byte{1}, auth.MinCodecSecret))
	require.NoError(t, err)
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	f := fixture{db: db, now: &now}
	// The cheapest hash: these tests are about the rules around it, and
	// TestRegister keeps the default cost.
	hasher, err := auth.NewHasherCost(4, auth.Cost{MemoryKiB: 8, Passes: 1})
	require.NoError(t, err)
	f.svc, err = New(Config{Store: db, Codec: codec, Hasher: hasher, Now: func() time.Time { return *f.now }})
	require.NoError(t, err)
	return f
}

func TestNormalisedEmailsAreOneAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	reg, err := f.svc.Register(ctx, "Jose\u0301@Example.com", "correct horse battery", "")
	require.NoError(t, err)
	require.Equal(t, "Jos\u00e9@example.com", reg.Account.Email, "stored NFC, as typed, the domain as DNS looks it up")
	_, err = f.svc.Register(ctx, "JOS\u00c9@example.com", "another long password", "")
	require.ErrorIs(t, err, ErrEmailTaken)
	_, err = f.svc.SignIn(ctx, "jose\u0301@EXAMPLE.com", "correct horse battery", "192.0.2.1")
	require.NoError(t, err)
}

func TestAccountsStoredBeforeNormalisationStillSignIn(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	hash, err := auth.HashPassword("correct horse battery")
	require.NoError(t, err)
	// As the earlier code stored them: the email as typed.
	for id, email := range map[string]string{"a": "Old.User@Example.COM", "b": "Rene\u0301@example.com"} {
		require.NoError(t, f.db.CreateAccount(ctx,
			store.Account{ID: id, Email: email, PasswordHash: hash, CreateTime: *f.now},
			store.APIKey{ID: "k" + id, AccountID: id, SecretHash: []byte{1}, CreateTime: *f.now}))
	}
	for _, typed := range []string{"old.user@example.com", "Old.User@Example.COM", " OLD.USER@EXAMPLE.COM", "Rene\u0301@example.com"} {
		in, err := f.svc.SignIn(ctx, typed, "correct horse battery", "192.0.2.1")
		require.NoError(t, err, typed)
		require.NotEmpty(t, in.Token)
	}
}

func TestSignInLockoutIsPerAccountAndAddress(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	_, err := f.svc.Register(ctx, "owner@example.com", "correct horse battery", "")
	require.NoError(t, err)
	stranger, owner := "203.0.113.66", "192.0.2.1"

	for range signInPair.Limit {
		_, err := f.svc.SignIn(ctx, "owner@example.com", "a wrong guess here", stranger)
		require.ErrorIs(t, err, ErrBadCredentials)
	}
	_, err = f.svc.SignIn(ctx, "owner@example.com", "correct horse battery", stranger)
	var te *throttle.Error
	require.ErrorAs(t, err, &te, "the stranger waits, right password or not")
	require.Equal(t, time.Minute, te.RetryAfter)
	_, err = f.svc.SignIn(ctx, "owner@example.com", "correct horse battery", owner)
	require.NoError(t, err, "the owner, from elsewhere, is not locked out")

	// The stranger's waits double: a minute, then two.
	*f.now = f.now.Add(time.Minute)
	_, err = f.svc.SignIn(ctx, "owner@example.com", "another wrong guess", stranger)
	require.ErrorIs(t, err, ErrBadCredentials)
	_, err = f.svc.SignIn(ctx, "owner@example.com", "correct horse battery", stranger)
	require.ErrorAs(t, err, &te)
	require.Equal(t, 2*time.Minute, te.RetryAfter)

	// Unknown emails count the same, and the address's own limit holds
	// across accounts.
	for i := range signInAddress.Limit - signInPair.Limit - 1 {
		_, err := f.svc.SignIn(ctx, strings.Repeat("x", i+1)+"@example.com", "a wrong guess here", stranger)
		require.ErrorIs(t, err, ErrBadCredentials)
	}
	_, err = f.svc.SignIn(ctx, "someone.else@example.com", "a wrong guess here", stranger)
	require.ErrorAs(t, err, &te)
	require.Equal(t, signInAddress.What, te.What)

	// A success forgets the pair's failures.
	for range signInPair.Limit - 1 {
		_, err := f.svc.SignIn(ctx, "owner@example.com", "a wrong guess here", owner)
		require.ErrorIs(t, err, ErrBadCredentials)
	}
	_, err = f.svc.SignIn(ctx, "owner@example.com", "correct horse battery", owner)
	require.NoError(t, err)
	for range signInPair.Limit - 1 {
		_, err := f.svc.SignIn(ctx, "owner@example.com", "a wrong guess here", owner)
		require.ErrorIs(t, err, ErrBadCredentials)
	}
	_, err = f.svc.SignIn(ctx, "owner@example.com", "correct horse battery", owner)
	require.NoError(t, err)
}

func TestRegistrationsCountTakenEmails(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	client := "192.0.2.9"
	_, err := f.svc.Register(ctx, "first@example.com", "correct horse battery", client)
	require.NoError(t, err)
	for range registrations.Limit - 1 {
		_, err := f.svc.Register(ctx, "first@example.com", "correct horse battery", client)
		require.ErrorIs(t, err, ErrEmailTaken)
	}
	_, err = f.svc.Register(ctx, "second@example.com", "correct horse battery", client)
	var te *throttle.Error
	require.ErrorAs(t, err, &te, "probing taken emails used up the address's registrations")
	_, err = f.svc.Register(ctx, "nope", "correct horse battery", client)
	require.ErrorIs(t, err, ErrInvalid, "a mistyped form is answered in words, throttled or not")
	*f.now = f.now.Add(time.Hour)
	_, err = f.svc.Register(ctx, "second@example.com", "correct horse battery", client)
	require.NoError(t, err)
}

// hundredEmoji is 100 emoji, none repeated: 400 bytes of UTF-8.
func hundredEmoji() string {
	var b strings.Builder
	for i := range 100 {
		b.WriteRune(rune(0x1F300 + i*37%200))
	}
	return b.String()
}
