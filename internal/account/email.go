package account

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"

	"github.com/smartimage/enhance/internal/apierror"
)

// maxEmailBytes is RFC 5321's limit on an address.
const maxEmailBytes = 254

// normalizeEmail is the form in which emails are stored and compared:
// without surrounding spaces, NFC, case-folded, so that the NFC and NFD
// spellings of one address, or its capitals, are one account.
func normalizeEmail(email string) string {
	return norm.NFC.String(cases.Fold().String(norm.NFC.String(strings.TrimSpace(email))))
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
		case !unicode.IsGraphic(r):
			// Controls, bidi overrides (U+202E ...), zero-width and
			// unassigned characters: an address that shows as another.
			return "", invalid("email", "the email contains an invisible or control character (U+%04X); type it again without it", r)
		}
	}
	normal := normalizeEmail(email)
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
