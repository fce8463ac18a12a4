package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// restDoor calls the server's REST gateway. Requests are the same proto
// messages as on gRPC, in their JSON form, which is what the gateway
// reads (imageBase64, enhancementType ...).
type restDoor struct {
	base    string
	client  *http.Client
	timeout time.Duration
}

func newRESTDoor(base string, cfg *tls.Config, timeout time.Duration) *restDoor {
	return &restDoor{base: base, timeout: timeout, client: &http.Client{Transport: &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		TLSClientConfig:   cfg,
		ForceAttemptHTTP2: true,
	}}}
}

func (d *restDoor) close() error {
	d.client.CloseIdleConnections()
	return nil
}

// do sends one request and returns a successful answer with its body
// read; any error status becomes an *apiError from the problem JSON.
func (d *restDoor) do(ctx context.Context, r rpc, cred credential, req proto.Message) (http.Header, []byte, error) {
	var (
		header http.Header
		body   []byte
	)
	err := withTimeout(ctx, d.timeout, d.base, func(ctx context.Context) error {
		var in io.Reader
		if r.body {
			b, err := protojson.Marshal(req)
			if err != nil {
				return err
			}
			in = bytes.NewReader(b)
		}
		target := d.base + r.path
		if len(r.query) > 0 {
			target += "?" + r.query.Encode()
		}
		hreq, err := http.NewRequestWithContext(ctx, r.method, target, in)
		if err != nil {
			return usageError(fmt.Sprintf("--server %s: %v", d.base, err))
		}
		if r.body {
			hreq.Header.Set("Content-Type", "application/json")
		}
		hreq.Header.Set("User-Agent", "enhancectl")
		switch {
		case cred.key != "":
			hreq.Header.Set("x-api-key", cred.key)
		case cred.bearer != "":
			hreq.Header.Set("Authorization", "Bearer "+cred.bearer)
		}
		resp, err := d.client.Do(hreq)
		if err != nil {
			var uerr *url.Error
			if errors.As(err, &uerr) {
				err = uerr.Err
			}
			return &unreachableError{server: d.base, err: err}
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 400 {
			return problem(resp)
		}
		header = resp.Header
		if body, err = io.ReadAll(resp.Body); err != nil {
			return &unreachableError{server: d.base, err: fmt.Errorf("reading the answer: %w", err)}
		}
		return nil
	})
	return header, body, err
}

// problem reads an error answer's problem JSON.
func problem(resp *http.Response) error {
	var p struct {
		Detail    string `json:"detail"`
		Code      string `json:"code"`
		RequestID string `json:"requestId"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err := json.Unmarshal(b, &p); err != nil || p.Detail == "" {
		p.Detail = strings.TrimSpace(resp.Status + " " + string(b))
	}
	e := &apiError{
		code: httpCode(resp.StatusCode), httpStatus: resp.StatusCode,
		reason: p.Code, detail: p.Detail, requestID: cmpOr(p.RequestID, resp.Header.Get("X-Request-Id")),
	}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
		e.retryAfter = time.Duration(s) * time.Second
	}
	return e
}

func (d *restDoor) call(ctx context.Context, r rpc, cred credential, req, resp proto.Message) error {
	_, body, err := d.do(ctx, r, cred, req)
	if err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{DiscardUnknown: true}).Unmarshal(body, resp); err != nil {
		return fmt.Errorf("reading the server's answer: %w", err)
	}
	return nil
}

func (d *restDoor) image(ctx context.Context, r rpc, cred credential, req proto.Message, _ imageResponse) (imageAnswer, error) {
	h, body, err := d.do(ctx, r, cred, req)
	if err != nil {
		return imageAnswer{}, err
	}
	a := imageAnswer{
		data:        body,
		contentType: h.Get("Content-Type"),
		width:       atoi(h.Get("X-Image-Width")),
		height:      atoi(h.Get("X-Image-Height")),
		charged:     atoi(h.Get("X-Credits-Charged")),
		remaining:   atoi(h.Get("X-Credits-Remaining")),
		requestID:   h.Get("X-Request-Id"),
	}
	// "white_balance(gain_b=1.092,...), levels(...)": parameters are
	// separated by bare commas, steps by ", ".
	if report := h.Get("X-Enhancement-Steps"); report != "" && report != "none" {
		for step := range strings.SplitSeq(report, ", ") {
			name, _, _ := strings.Cut(step, "(")
			a.steps = append(a.steps, name)
		}
	}
	return a, nil
}
