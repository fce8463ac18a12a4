package account

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"golang.org/x/net/idna"
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

// normalizeEmail is the form in which emails are stored and compared:
// without surrounding spaces and NFC, so that the NFC and NFD spellings of
// one address are one account; the local part lower-cased rune by rune
// (the simple mapping: a full case fold would make ß "ss", another
// mailbox); the domain mapped as DNS looks it up (UTS 46, non-transitional,
// so that straße.de stays straße.de, which is not strasse.de) and kept in
// Unicode. A domain that does not map is lower-cased as the local part.
func normalizeEmail(email string) string {
	normal, _ := mapEmail(email)
	return normal
}

// domains maps domains as a lookup does (UTS 46 non-transitional), in
// Unicode form.
var domains = idna.New(idna.MapForLookup(), idna.Transitional(false))

// mapEmail is normalizeEmail, with the domain's mapping error, if any.
func mapEmail(email string) (string, error) {
	email = norm.NFC.String(strings.TrimSpace(email))
	at := strings.LastIndex(email, "@")
	if at < 0 {
		return strings.ToLower(email), nil
	}
	local, domain := strings.ToLower(email[:at]), email[at+1:]
	mapped, err := domains.ToUnicode(domain)
	if err != nil {
		mapped = strings.ToLower(domain)
	}
	return local + "@" + norm.NFC.String(mapped), err
}

// validateEmail checks an email given at registration and returns its
// normal form; a refusal says what to fix, with param "email".
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
	normal, derr := mapEmail(email)
	if derr != nil {
		return "", invalid("email", "the domain of %q is not a valid domain name", email)
	}
	if len(normal) > maxEmailBytes {
		return "", invalid("email", "the email is longer than %d characters", maxEmailBytes)
	}
	addr, err := mail.ParseAddress(normal)
	at := strings.LastIndex(normal, "@")
	if err != nil || addr.Address != normal || at < 0 || !strings.Contains(normal[at+1:], ".") && normal[at+1:] != "localhost" {
		return "", invalid("email", "%q is not an email address", email)
	}
	return normal, nil
}

// invalid is a refusal of a registration field, in words that say what
// to fix.
func invalid(param, format string, args ...any) error {
	return apierror.Param(param, fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...)))
}
