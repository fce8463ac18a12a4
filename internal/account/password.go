package account

import (
	_ "embed"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/cases"

	"github.com/smartimage/enhance/internal/auth"
)

//go:generate go run genpasswords.go

// commonPasswordsText is zxcvbn's list of common passwords, folded and
// sorted, one a line (commonpasswords/README.md says where it comes from).
//
//go:embed commonpasswords/passwords.txt
var commonPasswordsText string

// passwordPolicy is what a new password must be, after NIST SP 800-63B
// (5.1.1.2): 12 to 256 characters counted as Unicode code points, any
// characters but controls, and none of what an attacker tries first: a
// common or breached password (alone, or with digits and symbols around
// it), one character or a short run repeated, consecutive characters,
// the account's own email.
type passwordPolicy struct {
	// common is the list, sorted; its strings share the embedded text.
	common []string
}

func newPasswordPolicy() passwordPolicy {
	return passwordPolicy{common: strings.Split(strings.TrimSuffix(commonPasswordsText, "\n"), "\n")}
}

// fold is the form in which passwords are compared with the list and the
// email: NFKC (as they are hashed), then Unicode case folding.
func fold(s string) string {
	return cases.Fold().String(auth.NormalizePassword(s))
}

func (p passwordPolicy) isCommon(folded string) bool {
	_, found := slices.BinarySearch(p.common, folded)
	return found
}

// check refuses password for the account of email, saying what to fix.
// The email and its local part are folded as the password is, so that
// they are refused in any capitals, or with ss for ß, as their key
// (emailKey) compares them.
func (p passwordPolicy) check(password, email string) error {
	if len(password) > auth.MaxPasswordBytes {
		return invalid("password", "the password must be at most %d characters and %d bytes long", auth.MaxPasswordLen, auth.MaxPasswordBytes)
	}
	if !utf8.ValidString(password) {
		return invalid("password", "the password is not valid UTF-8 text")
	}
	normal := auth.NormalizePassword(password)
	switch n := utf8.RuneCountInString(normal); {
	case n < auth.MinPasswordLen:
		return invalid("password", "the password must be at least %d characters long (it has %d)", auth.MinPasswordLen, n)
	case n > auth.MaxPasswordLen || len(normal) > auth.MaxPasswordBytes:
		return invalid("password", "the password must be at most %d characters and %d bytes long", auth.MaxPasswordLen, auth.MaxPasswordBytes)
	}
	for _, r := range normal {
		if unicode.IsControl(r) {
			return invalid("password", "the password contains a control character (U+%04X); use letters, digits, spaces and symbols", r)
		}
	}
	if strings.TrimSpace(normal) == "" {
		return invalid("password", "the password is only spaces; choose another")
	}
	folded := fold(normal)
	local := email
	if at := strings.LastIndex(email, "@"); at >= 0 {
		local = email[:at]
	}
	email, local = fold(email), fold(local)
	switch {
	case p.isCommon(folded):
		return invalid("password", "the password is on a list of common passwords; choose another")
	case folded == email:
		return invalid("password", "the password is your email address; choose another")
	case folded == local:
		return invalid("password", "the password is the name in your email address; choose another")
	}
	if unit, ok := repeats(folded); ok {
		return invalid("password", "the password is %q repeated; choose another", unit)
	}
	if consecutive(folded) {
		return invalid("password", "the password is a run of consecutive characters (like 123456 or abcdef); choose another")
	}
	// The common password with digits and symbols around it is the
	// first thing a guesser tries after the password itself; a core of
	// one or two letters says nothing.
	core := strings.TrimFunc(folded, func(r rune) bool { return !unicode.IsLetter(r) })
	if utf8.RuneCountInString(core) >= 3 && core != folded {
		switch {
		case p.isCommon(core):
			return invalid("password", "the password is a common password with digits or symbols added; choose another")
		case core == email:
			return invalid("password", "the password is your email address with digits or symbols added; choose another")
		case core == local:
			return invalid("password", "the password is the name in your email address with digits or symbols added; choose another")
		}
	}
	return nil
}

// repeats reports whether s is a run of at most half its length repeated
// (a partial last run included: "abcabcabcab"), and the run.
func repeats(s string) (string, bool) {
	r := []rune(s)
	for period := 1; period <= len(r)/2; period++ {
		periodic := true
		for i := period; i < len(r) && periodic; i++ {
			periodic = r[i] == r[i-period]
		}
		if periodic {
			return string(r[:period]), true
		}
	}
	return "", false
}

// consecutive reports whether every character of s follows the one
// before it, or every one precedes it ("123456789012", "lkjihgfedcba"):
// digits wrap around from 9 to 0.
func consecutive(s string) bool {
	r := []rune(s)
	next := func(a, b rune, step rune) bool {
		if a >= '0' && a <= '9' && b >= '0' && b <= '9' {
			return (b-'0'+10)%10 == (a-'0'+10+step)%10
		}
		return b == a+step
	}
	for _, step := range []rune{1, -1} {
		all := true
		for i := 1; i < len(r) && all; i++ {
			all = next(r[i-1], r[i], step)
		}
		if all {
			return true
		}
	}
	return false
}
