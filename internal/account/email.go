package account

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/smartimage/enhance/internal/apierror"
)

// maxEmailBytes is RFC 5321's limit on an address.
const maxEmailBytes = 254

// The zero-width joiners, which some scripts need inside words.
const (
	zwnj = '\u200c'
	zwj  = '\u200d'
)

// An email has two forms. emailAddress is the one stored and shown: the
// address as its owner typed it, so that the account, its export and
// every message name it as they spell it. emailKey is the one compared:
// unique among accounts, the one registration finds taken and sign-in
// looks up, so that capitals and Unicode spellings of one address are one
// account.

// emailAddress is email as stored: without surrounding spaces and NFC
// (the NFC and NFD spellings are one string); the local part's capitals
// kept as typed, since they are the owner's spelling and emailKey
// ignores them; the domain mapped as DNS looks it up (UTS 46,
// non-transitional, so that straße.de stays straße.de, which is not
// strasse.de), which lower-cases it, and kept in Unicode. The error is
// the domain's mapping error: registration refuses such an email; for a
// sign-in or an older row the domain is then lower-cased instead, so
// that its capitals still do not matter to the key.
func emailAddress(email string) (string, error) {
	email = norm.NFC.String(strings.TrimSpace(email))
	at := strings.LastIndex(email, "@")
	if at < 0 {
		return email, nil
	}
	local, domain := email[:at], email[at+1:]
	mapped, err := domains.ToUnicode(domain)
	if err != nil {
		mapped = strings.ToLower(domain)
	}
	return local + "@" + norm.NFC.String(mapped), err
}

// emailKey is the form under which an email is unique: emailAddress with
// its local part case-folded (then NFC again, as folding may leave a
// string that is not), so that Straße@ and STRASSE@ are one account,
// whichever registered first keeping its spelling. Folding makes ß "ss":
// in the key only, which is never shown nor used to send mail. The domain
// is not folded beyond UTS 46: straße.de and strasse.de are two domains,
// whose mailboxes belong to different people.
func emailKey(email string) string {
	address, _ := emailAddress(email)
	at := strings.LastIndex(address, "@")
	if at < 0 {
		return foldLocal(address)
	}
	return foldLocal(address[:at]) + address[at:]
}

// foldLocal is a local part as emailKey compares it.
func foldLocal(local string) string {
	return norm.NFC.String(cases.Fold().String(local))
}

// domains maps domains as a lookup does (UTS 46 non-transitional), in
// Unicode form.
var domains = idna.New(idna.MapForLookup(), idna.Transitional(false))

// validateEmail checks an email given at registration and returns it as
// stored (emailAddress); a refusal says what to fix, with param "email".
func validateEmail(email string) (string, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return "", invalid("email", "email is required")
	}
	if len(email) > 4*maxEmailBytes {
		return "", invalid("email", "the email is longer than %d characters", maxEmailBytes)
	}
	for _, r := range email {
		switch {
		case unicode.IsSpace(r):
			return "", invalid("email", "the email contains a space")
		case r == zwnj || r == zwj:
			// Needed to spell words in Persian and Indic scripts.
		case !unicode.IsGraphic(r):
			// Controls, bidi overrides (U+202E ...), zero-width and
			// unassigned characters: an address that shows as another.
			return "", invalid("email", "the email contains an invisible or control character (U+%04X); type it again without it", r)
		}
	}
	address, derr := emailAddress(email)
	if derr != nil {
		return "", invalid("email", "the domain of %q is not a valid domain name", email)
	}
	if len(address) > maxEmailBytes {
		return "", invalid("email", "the email is longer than %d characters", maxEmailBytes)
	}
	addr, err := mail.ParseAddress(address)
	at := strings.LastIndex(address, "@")
	if err != nil || addr.Address != address || at < 0 || !strings.Contains(address[at+1:], ".") && address[at+1:] != "localhost" {
		return "", invalid("email", "%q is not an email address", email)
	}
	return address, nil
}

// invalid is a refusal of a registration field, in words that say what
// to fix.
func invalid(param, format string, args ...any) error {
	return apierror.Param(param, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...)))
}
