package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// usageError is a wrong command line (exit 2); its text says what is wrong.
type usageError string

func (e usageError) Error() string { return string(e) }

// credentialError is a credential this side lacks: no key, no session
// (exit 3). Its text says what to do, and never holds a secret.
type credentialError string

func (e credentialError) Error() string { return string(e) }

// reportedError is a failure whose reasons were printed already; it only
// carries the exit status.
type reportedError int

func (e reportedError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// unreachableError is a server that could not be reached or did not
// answer (exit 5).
type unreachableError struct {
	server string
	err    error
}

func (e *unreachableError) Error() string {
	msg := fmt.Sprintf("cannot reach %s: %v", e.server, e.err)
	var unknownCA x509.UnknownAuthorityError
	if errors.As(e.err, &unknownCA) || strings.Contains(e.err.Error(), "certificate signed by unknown authority") {
		msg += " (does --ca name the server's CA? a development server's is data/tls/ca.pem)"
	}
	return msg
}

func (e *unreachableError) Unwrap() error { return e.err }

// apiError is a refusal the server answered, read the same from either
// door: the gRPC status with its ErrorInfo, or the REST problem JSON.
type apiError struct {
	code       codes.Code // the gRPC code (on REST, the one the status stands for)
	httpStatus int        // REST only
	reason     string     // ErrorInfo reason = the problem's "code", e.g. CREDITS_EXHAUSTED
	detail     string
	requestID  string
	retryAfter time.Duration
}

func (e *apiError) Error() string {
	msg := e.detail
	if msg == "" {
		msg = strings.ToLower(e.code.String())
	}
	if e.reason != "" {
		msg += " (" + e.reason + ")"
	}
	if e.requestID != "" && !strings.Contains(msg, e.requestID) {
		msg += " [request " + e.requestID + "]"
	}
	return msg
}

// fromStatus reads a gRPC error; an UNAVAILABLE without the server's
// ErrorInfo is the connection failing, not the server answering.
func fromStatus(err error, server, requestID string) error {
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	e := &apiError{code: st.Code(), detail: st.Message(), requestID: requestID}
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			e.reason = d.GetReason()
		case *errdetails.RetryInfo:
			e.retryAfter = d.GetRetryDelay().AsDuration()
		}
	}
	switch {
	case e.reason == "" && (st.Code() == codes.Unavailable || st.Code() == codes.DeadlineExceeded):
		return &unreachableError{server: server, err: errors.New(transportMessage(st.Message()))}
	case st.Code() == codes.Canceled && e.reason == "":
		return context.Canceled
	case st.Code() == codes.ResourceExhausted && e.reason == "":
		// grpc-go's own refusal of a message over a limit, not the
		// server's (which always gives a reason): no credits involved.
		return fmt.Errorf("%s [request %s]", st.Message(), requestID)
	}
	return e
}

// transportMessage is the cause inside grpc-go's connection error,
// `connection error: desc = "transport: Error while dialing: dial tcp
// ...: connection refused"`.
func transportMessage(msg string) string {
	if _, desc, ok := strings.Cut(msg, `desc = "`); ok {
		msg = strings.TrimSuffix(desc, `"`)
	}
	msg = strings.TrimPrefix(msg, "transport: ")
	return strings.TrimPrefix(msg, "Error while dialing: ")
}

// httpCode is the gRPC code a REST status stands for, after the service's
// own table (README, Errors).
func httpCode(status int) codes.Code {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusPaymentRequired, http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusConflict:
		return codes.Aborted
	case http.StatusUnprocessableEntity:
		return codes.FailedPrecondition
	case http.StatusServiceUnavailable, http.StatusBadGateway:
		return codes.Unavailable
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case http.StatusNotImplemented:
		return codes.Unimplemented
	}
	return codes.Internal
}

// classify is the exit status err stands for.
func classify(err error) int {
	var (
		api        *apiError
		misuse     usageError
		credential credentialError
		reported   reportedError
		unreach    *unreachableError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &reported):
		return int(reported)
	case errors.As(err, &misuse):
		return exitUsage
	case errors.As(err, &credential):
		return exitAuth
	case errors.As(err, &unreach), errors.Is(err, context.DeadlineExceeded):
		return exitUnreachable
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &api):
		return api.exitStatus()
	}
	return exitFailed
}

// exitStatus sorts the server's refusals: the reason first, as it is the
// most precise, then the code.
func (e *apiError) exitStatus() int {
	switch e.reason {
	case "CREDITS_EXHAUSTED", "RATE_LIMITED":
		return exitExhausted
	case "UNAUTHENTICATED", "MISSING_SCOPE", "SESSION_REQUIRED", "BAD_CREDENTIALS", "WRONG_PASSWORD", "REGISTRATION_CLOSED":
		return exitAuth
	case "INVALID_OPTION", "MALFORMED_REQUEST", "INVALID_REQUEST", "INVALID_KEY_REQUEST", "INVALID_IDEMPOTENCY_KEY":
		return exitUsage
	case "UNAVAILABLE", "NOT_READY", "DEADLINE_EXCEEDED":
		return exitUnreachable
	}
	switch e.code {
	case codes.Unauthenticated, codes.PermissionDenied:
		return exitAuth
	case codes.ResourceExhausted:
		return exitExhausted
	case codes.Unavailable, codes.DeadlineExceeded:
		return exitUnreachable
	}
	return exitFailed
}

// exitStatus prints err, unless it was reported already, and returns the
// status it stands for. A misuse adds a pointer to the usage text.
func exitStatus(stderr io.Writer, command string, err error) int {
	code := classify(err)
	var reported reportedError
	switch {
	case err == nil, errors.As(err, &reported):
	case code == exitUsage:
		fmt.Fprintf(stderr, "enhancectl %s: %v\n(enhancectl help shows every command)\n", command, err)
	case code == exitInterrupted:
		fmt.Fprintf(stderr, "enhancectl %s: interrupted\n", command)
	default:
		fmt.Fprintf(stderr, "enhancectl %s: %v\n", command, err)
	}
	return code
}
