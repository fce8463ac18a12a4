package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/protobuf/proto"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// keyEnv names the variable the API key comes from, as the product's
// documentation has it.
const keyEnv = "SMART_IMAGE_ENHANCEMENT_API_KEY"

// Default addresses of a server started by make run.
const (
	defaultGRPCServer = "localhost:9443"
	defaultRESTServer = "https://localhost:8443"
)

// maxAnswerBytes is the largest gRPC message the server sends (its
// maxResponseBytes): a ×4 upscale of an ordinary photo is well over gRPC's
// default 4 MiB, and a client refusing it would have been charged for it.
const maxAnswerBytes = 256 << 20

// connFlags are the flags every client command takes to reach the server.
type connFlags struct {
	server  string
	ca      string
	rest    bool
	keyFile string
	timeout time.Duration
}

// addConnFlags registers the connection flags on fs, with their
// environment twins as defaults.
func addConnFlags(fs *flag.FlagSet, getenv func(string) string) *connFlags {
	f := &connFlags{}
	fs.StringVar(&f.server, "server", getenv("ENHANCE_SERVER"), "gRPC host:port (default "+defaultGRPCServer+"), or with --rest the base URL (default "+defaultRESTServer+"); ENHANCE_SERVER")
	fs.StringVar(&f.ca, "ca", getenv("ENHANCE_CA"), "trust this CA certificate (PEM) instead of the system's roots; ENHANCE_CA")
	fs.BoolVar(&f.rest, "rest", false, "use REST (HTTPS and JSON) instead of gRPC")
	fs.StringVar(&f.keyFile, "key-file", "", "read the API key from this file instead of "+keyEnv)
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "give up on one request after this long")
	return f
}

// address is the server to dial: host:port for gRPC, a base URL for REST.
func (f *connFlags) address() (string, error) {
	s := strings.TrimRight(strings.TrimSpace(f.server), "/")
	if strings.HasPrefix(s, "http://") {
		return "", usageError("--server " + s + ": the server speaks HTTPS only")
	}
	if f.rest {
		if s == "" {
			return defaultRESTServer, nil
		}
		if !strings.HasPrefix(s, "https://") {
			s = "https://" + s
		}
		if _, err := url.Parse(s); err != nil {
			return "", usageError(fmt.Sprintf("--server %s: %v", f.server, err))
		}
		return s, nil
	}
	if s == "" {
		return defaultGRPCServer, nil
	}
	return strings.TrimPrefix(s, "https://"), nil
}

// host is the server's host name, which a session belongs to.
func (f *connFlags) host() string {
	addr, err := f.address()
	if err != nil {
		return ""
	}
	if u, err := url.Parse(addr); err == nil && u.Host != "" {
		return u.Hostname()
	}
	if u, err := url.Parse("//" + addr); err == nil {
		return u.Hostname()
	}
	return addr
}

// tlsConfig trusts --ca when given (only it, as curl --cacert does), else
// the system's roots.
func (f *connFlags) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.ca == "" {
		return cfg, nil
	}
	pem, err := os.ReadFile(f.ca)
	if err != nil {
		return nil, usageError(fmt.Sprintf("--ca: %v", err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, usageError("--ca " + f.ca + " holds no PEM certificate")
	}
	cfg.RootCAs = pool
	return cfg, nil
}

// dial opens the door the flags choose. Nothing is sent until a call.
func (f *connFlags) dial() (door, error) {
	addr, err := f.address()
	if err != nil {
		return nil, err
	}
	cfg, err := f.tlsConfig()
	if err != nil {
		return nil, err
	}
	if f.rest {
		return newRESTDoor(addr, cfg, f.timeout), nil
	}
	return newGRPCDoor(addr, cfg, f.timeout)
}

// apiKey is the key from --key-file or the environment. Its text never
// appears in a message.
func (f *connFlags) apiKey(getenv func(string) string) (string, error) {
	key, err := f.optionalKey(getenv)
	if err == nil && key == "" {
		err = credentialError("no API key: set " + keyEnv + " (or give --key-file FILE)")
	}
	return key, err
}

// optionalKey is the key, "" when none is given; an error when one is
// given and cannot be used.
func (f *connFlags) optionalKey(getenv func(string) string) (string, error) {
	key, from := strings.TrimSpace(getenv(keyEnv)), keyEnv
	if f.keyFile != "" {
		b, err := os.ReadFile(f.keyFile)
		if err != nil {
			return "", credentialError(fmt.Sprintf("no API key: --key-file: %v", errors.Unwrap(err)))
		}
		key, from = strings.TrimSpace(string(b)), f.keyFile
		if key == "" {
			return "", credentialError("no API key: " + f.keyFile + " is empty")
		}
	}
	for _, c := range key {
		if !(c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", credentialError("the API key in " + from + " is malformed: a key is sie_ and letters, digits and _")
		}
	}
	return key, nil
}

// credential is what a call presents: an API key or a session token.
type credential struct {
	key    string
	bearer string
}

// rpc names one method on both doors.
type rpc struct {
	grpc   string     // full gRPC method name
	method string     // HTTP method
	path   string     // REST path, its parameters filled in
	query  url.Values // REST query parameters
	body   bool       // the request is the REST body, as JSON
}

// imageResponse is what the three image methods answer.
type imageResponse interface {
	proto.Message
	GetImage() *httpbody.HttpBody
	GetWidthPixels() int32
	GetHeightPixels() int32
	GetSteps() []*enhancev1.AppliedStep
}

// imageAnswer is an image method's answer, read the same from either door.
type imageAnswer struct {
	data          []byte
	contentType   string
	width, height int
	steps         []string // the names of the steps applied
	charged       int      // -1: not said (a dry run)
	remaining     int      // -1: not said
	requestID     string
}

// door is one way to the server: gRPC or REST.
type door interface {
	// call makes one JSON-able call, filling resp.
	call(ctx context.Context, r rpc, cred credential, req, resp proto.Message) error
	// image makes one image call; resp is the gRPC answer's type.
	image(ctx context.Context, r rpc, cred credential, req proto.Message, resp imageResponse) (imageAnswer, error)
	close() error
}

// withTimeout bounds one call, and tells a call that ran out of its own
// time from one the user interrupted.
func withTimeout(ctx context.Context, timeout time.Duration, server string, call func(context.Context) error) error {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := call(cctx)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return &unreachableError{server: server, err: fmt.Errorf("no answer within %v (--timeout)", timeout)}
	}
	return err
}

// Methods, as both doors name them.
func rpcImage(operation string) rpc {
	names := map[string]string{
		"enhance":  enhancev1.ImageService_Enhance_FullMethodName,
		"upscale":  enhancev1.ImageService_Upscale_FullMethodName,
		"colorize": enhancev1.ImageService_Colorize_FullMethodName,
	}
	return rpc{grpc: names[operation], method: "POST", path: "/v1/" + operation, body: true}
}

func rpcCreateSession() rpc {
	return rpc{grpc: enhancev1.AccountService_CreateSession_FullMethodName, method: "POST", path: "/v1/sessions", body: true}
}

func rpcDeleteSession() rpc {
	return rpc{grpc: enhancev1.AccountService_DeleteSession_FullMethodName, method: "DELETE", path: "/v1/sessions/current"}
}

func rpcListKeys() rpc {
	return rpc{grpc: enhancev1.KeyService_ListKeys_FullMethodName, method: "GET", path: "/v1/keys"}
}

func rpcCreateKey() rpc {
	return rpc{grpc: enhancev1.KeyService_CreateKey_FullMethodName, method: "POST", path: "/v1/keys", body: true}
}

func rpcRotateKey(id string) rpc {
	return rpc{grpc: enhancev1.KeyService_RotateKey_FullMethodName, method: "POST", path: "/v1/keys/" + url.PathEscape(id) + ":rotate", body: true}
}

func rpcDeleteKey(id string) rpc {
	return rpc{grpc: enhancev1.KeyService_DeleteKey_FullMethodName, method: "DELETE", path: "/v1/keys/" + url.PathEscape(id)}
}

func rpcGetUsage(req *enhancev1.GetUsageRequest) rpc {
	q := url.Values{}
	if req.GetPageSize() > 0 {
		q.Set("pageSize", fmt.Sprint(req.GetPageSize()))
	}
	if req.GetPageToken() != "" {
		q.Set("pageToken", req.GetPageToken())
	}
	return rpc{grpc: enhancev1.UsageService_GetUsage_FullMethodName, method: "GET", path: "/v1/usage", query: q}
}

func rpcGetPricing() rpc {
	return rpc{grpc: enhancev1.UsageService_GetPricing_FullMethodName, method: "GET", path: "/v1/pricing"}
}
