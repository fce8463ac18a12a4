package account

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/smartimage/enhance/internal/auth"
)

func TestEmailKeys(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ in, key string }{
		{"  Ann@Example.COM ", "ann@example.com"},
		{"\u00c9lodie.Martin@Example.COM", "\u00e9lodie.martin@example.com"},
		{"E\u0301LODIE.MARTIN@example.com", "\u00e9lodie.martin@example.com"},
		// The local part folded: ß is ss, final ς is σ.
		{"Stra\u00dfe@example.com", "strasse@example.com"},
		{"STRASSE@example.com", "strasse@example.com"},
		{"\u039f\u03b4\u03bf\u03c2@example.gr", "\u03bf\u03b4\u03bf\u03c3@example.gr"},
		// The domain as UTS 46 maps it, not folded further.
		{"user@Stra\u00dfe.DE", "user@stra\u00dfe.de"},
		{"user@strasse.de", "user@strasse.de"},
		// A domain that does not map is lower-cased.
		{"User@Bad_Domain.COM", "user@bad_domain.com"},
		{"NoAt", "noat"},
	} {
		require.Equal(t, tt.key, emailKey(tt.in), tt.in)
	}
}

// TestEmailKeepsItsSpelling: the account keeps the address as typed; its
// other spellings find it.
func TestEmailKeepsItsSpelling(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	reg, err := f.svc.Register(ctx, "\u00c9lodie.Martin@Example.COM", "correct horse battery", "")
	require.NoError(t, err)
	const typed = "\u00c9lodie.Martin@example.com"
	require.Equal(t, typed, reg.Account.Email, "as typed, the domain as DNS looks it up")
	require.Equal(t, "\u00e9lodie.martin@example.com", reg.Account.EmailKey)
	stored, err := f.db.Account(ctx, reg.Account.ID)
	require.NoError(t, err)
	require.Equal(t, typed, stored.Email)

	var in SignedIn
	for _, spelling := range []string{"\u00e9lodie.martin@EXAMPLE.com", "e\u0301lodie.martin@example.com", "E\u0301LODIE.MARTIN@EXAMPLE.COM"} {
		in, err = f.svc.SignIn(ctx, spelling, "correct horse battery", "192.0.2.1")
		require.NoError(t, err, spelling)
		require.Equal(t, reg.Account.ID, in.Session.AccountID, spelling)
	}
	_, err = f.svc.Register(ctx, "\u00e9lodie.martin@example.com", "another long password", "")
	require.ErrorIs(t, err, ErrEmailTaken)

	ex, err := f.svc.Export(ctx, auth.Principal{AccountID: in.Session.AccountID, SessionID: in.Session.ID})
	require.NoError(t, err)
	require.Equal(t, typed, ex.Account.Email, "the export holds the spelling registered")
}

// TestCaseFoldedEmailsAreOneAccount: Straße@ and STRASSE@ are one
// address (its key folds ß to ss), which keeps the spelling it was
// registered with.
func TestCaseFoldedEmailsAreOneAccount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tt := range []struct{ first, second string }{
		{"stra\u00dfe@example.com", "STRASSE@example.com"},
		{"STRASSE@example.com", "Stra\u00dfe@example.com"},
	} {
		f := newFixture(t)
		reg, err := f.svc.Register(ctx, tt.first, "correct horse battery", "")
		require.NoError(t, err)
		require.Equal(t, tt.first, reg.Account.Email)
		_, err = f.svc.Register(ctx, tt.second, "another long password", "")
		require.ErrorIs(t, err, ErrEmailTaken, tt.second)
		in, err := f.svc.SignIn(ctx, tt.second, "correct horse battery", "192.0.2.1")
		require.NoError(t, err, tt.second)
		require.Equal(t, reg.Account.ID, in.Session.AccountID)
	}
}

// TestPasswordIsNotTheEmailInAnyCase: the email and its name part are
// refused as the password whatever their capitals, ß and ss included.
func TestPasswordIsNotTheEmailInAnyCase(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newFixture(t)
	for _, tt := range []struct{ email, password, detail string }{
		{"Gro\u00dfstadtmensch@example.com", "GROSSSTADTMENSCH", "the name in your email address"},
		{"Gro\u00dfstadtmensch@example.com", "grossstadtmensch@example.com", "the password is your email address"},
		{"GROSSSTADTMENSCH@example.com", "gro\u00dfstadtmensch", "the name in your email address"},
		{"Ann.Smith@Example.com", "ann.smith@example.com", "the password is your email address"},
	} {
		_, err := f.svc.Register(ctx, tt.email, tt.password, "")
		require.ErrorIs(t, err, ErrInvalid, tt.password)
		require.Contains(t, err.Error(), tt.detail, tt.password)
	}
}
