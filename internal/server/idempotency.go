package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/smartimage/enhance/internal/access"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/idempotency"
	"github.com/smartimage/enhance/internal/requestid"
	"github.com/smartimage/enhance/internal/store"
)

// idempotent replays the first result of an image call made with an
// Idempotency-Key to a retry with the same key and request: no second
// charge, no second run. The same key with another request is refused
// (FAILED_PRECONDITION / 422), as is one whose first request still runs
// (ABORTED / 409). A call that fails is forgotten, so its retry runs.
type idempotent struct {
	store  store.Idempotency
	access access.Table
	// abandonAfter is longer than any request runs: a call still running
	// after it died with its server.
	abandonAfter time.Duration
	// instance names this process on the calls it runs.
	instance string
	log      *slog.Logger
}

func (i *idempotent) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	keys := md.Get(idempotency.Header)
	p, _ := auth.PrincipalFrom(ctx)
	if rule, _ := i.access.Lookup(info.FullMethod); len(keys) == 0 || !rule.Idempotent || p.AccountID == "" {
		return handler(ctx, req)
	}
	if len(keys) > 1 || !idempotency.ValidKey(keys[0]) {
		return nil, apierror.Param("Idempotency-Key", idempotency.ErrInvalidKey)
	}
	key := keys[0]
	msg, ok := req.(proto.Message)
	if !ok {
		return handler(ctx, req)
	}
	sum, err := idempotency.RequestHash(info.FullMethod, msg)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	// call is this request's, by which it finishes or abandons its own
	// call and no retry's that replaced it.
	call := store.IdempotentCall{AccountID: p.AccountID, Key: key, RequestHash: sum, CreateTime: now, Instance: i.instance}
	first, found, err := i.store.BeginIdempotent(ctx, call, now.Add(-idempotency.TTL), now.Add(-i.abandonAfter))
	if err != nil {
		return nil, err
	}
	if found {
		return i.replay(ctx, info.FullMethod, first, sum)
	}

	// Unless the first result is stored, the key is forgotten on the way
	// out, however the call ends (a panic below included), so that a
	// retry runs instead of meeting 409 until the key is abandoned.
	bg := context.WithoutCancel(ctx)
	stored := false
	defer func() {
		if stored {
			return
		}
		if aerr := i.store.AbandonIdempotent(bg, call); aerr != nil {
			i.log.ErrorContext(ctx, "forgetting an idempotent call failed", "request_id", requestid.From(ctx), "err", aerr)
		}
	}()
	capture := &headerCapture{ServerTransportStream: grpc.ServerTransportStreamFromContext(ctx)}
	resp, err := handler(grpc.NewContextWithServerTransportStream(ctx, capture), req)
	if err != nil {
		return nil, err
	}
	data, ok, merr := marshalAnswer(resp)
	if !ok {
		return resp, nil
	}
	header, herr := json.Marshal(capture.header())
	if merr == nil && herr == nil {
		merr = i.store.FinishIdempotent(bg, call, data, header)
	}
	if err := cmpErr(merr, herr); err != nil {
		// The caller has its result; only a retry would run again.
		i.log.ErrorContext(ctx, "storing an idempotent result failed", "request_id", requestid.From(ctx), "err", err)
		return resp, nil
	}
	stored = true
	return resp, nil
}

func (i *idempotent) replay(ctx context.Context, method string, first store.IdempotentCall, sum []byte) (any, error) {
	if !bytes.Equal(first.RequestHash, sum) {
		return nil, idempotency.ErrReused
	}
	if !first.Done {
		return nil, idempotency.ErrInProgress
	}
	resp, err := unmarshalAnswer(method, first.Response)
	if err != nil {
		return nil, fmt.Errorf("server: stored idempotent result: %w", err)
	}
	var header metadata.MD
	if err := json.Unmarshal(first.Header, &header); err != nil {
		return nil, fmt.Errorf("server: stored idempotent header: %w", err)
	}
	// The replay is free; the rest of the first answer's facts stand.
	header.Set(CreditsChargedHeader, "0")
	header.Set("x-idempotent-replay", "true")
	_ = grpc.SetHeader(ctx, header)
	return resp, nil
}

// marshalAnswer is the stored form of a call's answer: its message, or a
// streaming method's messages (guardStream's streamAnswer). ok is false
// for an answer that is neither, which is not stored.
func marshalAnswer(resp any) (data []byte, ok bool, err error) {
	switch a := resp.(type) {
	case *streamAnswer:
		data, err = a.marshal()
		return data, true, err
	case proto.Message:
		if a == nil {
			return nil, false, nil
		}
		data, err = proto.Marshal(a)
		return data, true, err
	}
	return nil, false, nil
}

// unmarshalAnswer reads what marshalAnswer wrote for method
// ("/package.Service/Method"), as the method's response type.
func unmarshalAnswer(name string, data []byte) (any, error) {
	md, err := method(name)
	if err != nil {
		return nil, err
	}
	out, err := messageType(md.Output())
	if err != nil {
		return nil, err
	}
	if md.IsStreamingServer() {
		return unmarshalStreamAnswer(data, out)
	}
	resp := out.New().Interface()
	if err := proto.Unmarshal(data, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

func cmpErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// headerCapture records the response metadata the handler and the
// interceptors after this one set, so that a replay can send it again.
type headerCapture struct {
	grpc.ServerTransportStream
	mu sync.Mutex
	md metadata.MD
}

func (c *headerCapture) SetHeader(md metadata.MD) error {
	c.mu.Lock()
	c.md = metadata.Join(c.md, md)
	c.mu.Unlock()
	return c.ServerTransportStream.SetHeader(md)
}

func (c *headerCapture) SendHeader(md metadata.MD) error {
	c.mu.Lock()
	c.md = metadata.Join(c.md, md)
	c.mu.Unlock()
	return c.ServerTransportStream.SendHeader(md)
}

func (c *headerCapture) header() metadata.MD {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.md.Copy()
}
