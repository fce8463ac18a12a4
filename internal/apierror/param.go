package apierror

import (
	"errors"
	"fmt"
)

// Param says which request field err is about, by the name the API
// spells it with ("outputFormat", "scaleFactor"). REST callers see it as
// the problem's "param", gRPC callers as a google.rpc.BadRequest field
// violation.
func Param(field string, err error) error {
	return &paramError{field: field, err: err}
}

// Paramf is Param of an error wrapping sentinel with a formatted message.
func Paramf(field string, sentinel error, format string, args ...any) error {
	return Param(field, fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...)))
}

// ParamOf is the field the outermost Param around err names, "" if none.
func ParamOf(err error) string {
	var p *paramError
	if errors.As(err, &p) {
		return p.field
	}
	return ""
}

type paramError struct {
	field string
	err   error
}

func (e *paramError) Error() string { return e.err.Error() }
func (e *paramError) Unwrap() error { return e.err }
