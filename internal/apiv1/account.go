package apiv1

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"google.golang.org/protobuf/types/known/timestamppb"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/account"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/clientaddr"
	"github.com/smartimage/enhance/internal/store"
)

// AccountServer implements enhancev1.AccountServiceServer.
type AccountServer struct {
	enhancev1.UnimplementedAccountServiceServer
	accounts *account.Service
	store    accountStore
}

// accountStore is what the account service reads beyond account.Service:
// the account itself and its audit log.
type accountStore interface {
	store.Accounts
	store.Audit
}

// NewAccountServer returns the account service.
func NewAccountServer(a *account.Service, s accountStore) (*AccountServer, error) {
	if a == nil || s == nil {
		return nil, errors.New("apiv1: account server needs accounts and a store")
	}
	return &AccountServer{accounts: a, store: s}, nil
}

// CreateAccount implements enhancev1.AccountServiceServer.
func (s *AccountServer) CreateAccount(ctx context.Context, req *enhancev1.CreateAccountRequest) (*enhancev1.CreateAccountResponse, error) {
	reg, err := s.accounts.Register(ctx, req.GetEmail(), req.GetPassword(), clientaddr.From(ctx))
	if err != nil {
		return nil, err
	}
	key := apiKeyProto(reg.Key)
	key.Secret = reg.Secret
	return &enhancev1.CreateAccountResponse{Account: accountProto(reg.Account), ApiKey: key}, nil
}

// CreateSession implements enhancev1.AccountServiceServer.
func (s *AccountServer) CreateSession(ctx context.Context, req *enhancev1.CreateSessionRequest) (*enhancev1.CreateSessionResponse, error) {
	in, err := s.accounts.SignIn(ctx, req.GetEmail(), req.GetPassword(), clientaddr.From(ctx))
	if err != nil {
		return nil, err
	}
	return &enhancev1.CreateSessionResponse{Token: in.Token, ExpireTime: timestamppb.New(in.Session.ExpireTime)}, nil
}

// DeleteSession implements enhancev1.AccountServiceServer.
func (s *AccountServer) DeleteSession(ctx context.Context, _ *enhancev1.DeleteSessionRequest) (*enhancev1.DeleteSessionResponse, error) {
	if err := s.accounts.SignOut(ctx, principal(ctx), clientaddr.From(ctx)); err != nil {
		return nil, err
	}
	return &enhancev1.DeleteSessionResponse{}, nil
}

// GetAccount implements enhancev1.AccountServiceServer.
func (s *AccountServer) GetAccount(ctx context.Context, _ *enhancev1.GetAccountRequest) (*enhancev1.GetAccountResponse, error) {
	a, err := s.store.Account(ctx, principal(ctx).AccountID)
	if errors.Is(err, store.ErrNotFound) {
		// Erased on another instance while this one still trusted a key.
		return nil, fmt.Errorf("%w: the account no longer exists", auth.ErrUnauthenticated)
	}
	if err != nil {
		return nil, err
	}
	return &enhancev1.GetAccountResponse{Account: accountProto(a)}, nil
}

// DeleteAccount implements enhancev1.AccountServiceServer.
func (s *AccountServer) DeleteAccount(ctx context.Context, req *enhancev1.DeleteAccountRequest) (*enhancev1.DeleteAccountResponse, error) {
	if err := s.accounts.Delete(ctx, principal(ctx), req.GetPassword()); err != nil {
		return nil, err
	}
	return &enhancev1.DeleteAccountResponse{}, nil
}

// ExportAccount implements enhancev1.AccountServiceServer.
func (s *AccountServer) ExportAccount(ctx context.Context, _ *enhancev1.ExportAccountRequest) (*enhancev1.ExportAccountResponse, error) {
	ex, err := s.accounts.Export(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	return exportProto(ex), nil
}

// Audit log paging: the page token is the id of the last event shown.
const (
	defaultAuditPage = 50
	maxAuditPage     = 500
)

// ListAuditEvents implements enhancev1.AccountServiceServer.
func (s *AccountServer) ListAuditEvents(ctx context.Context, req *enhancev1.ListAuditEventsRequest) (*enhancev1.ListAuditEventsResponse, error) {
	size, before, err := page(req.GetPageSize(), req.GetPageToken(), defaultAuditPage, maxAuditPage)
	if err != nil {
		return nil, err
	}
	events, err := s.store.AuditEvents(ctx, principal(ctx).AccountID, before, size+1)
	if err != nil {
		return nil, err
	}
	resp := &enhancev1.ListAuditEventsResponse{}
	if len(events) > size {
		events = events[:size]
		resp.NextPageToken = strconv.FormatInt(events[size-1].ID, 10)
	}
	for _, e := range events {
		resp.AuditEvents = append(resp.AuditEvents, auditProto(e))
	}
	return resp, nil
}

// page reads a page size (0: byDefault, capped at most) and a page token,
// which is the id of the last item of the previous page.
func page(size int32, token string, byDefault, most int) (int, int64, error) {
	n := int(size)
	switch {
	case n < 0:
		return 0, 0, apierror.Paramf("pageSize", apierror.ErrInvalidRequest, "pageSize must not be negative")
	case n == 0:
		n = byDefault
	case n > most:
		n = most
	}
	var last int64
	if token != "" {
		v, err := strconv.ParseInt(token, 10, 64)
		if err != nil || v <= 0 {
			return 0, 0, apierror.Paramf("pageToken", apierror.ErrInvalidRequest, "pageToken is not one this API returned")
		}
		last = v
	}
	return n, last, nil
}

// principal is the caller the auth interceptor verified; methods that
// reach here without one are public and do not call it.
func principal(ctx context.Context) auth.Principal {
	p, _ := auth.PrincipalFrom(ctx)
	return p
}

func accountProto(a store.Account) *enhancev1.Account {
	return &enhancev1.Account{Name: "accounts/" + a.ID, Email: a.Email, CreateTime: timestamppb.New(a.CreateTime)}
}

func auditProto(e store.AuditEvent) *enhancev1.AuditEvent {
	p := &enhancev1.AuditEvent{Kind: e.Kind, Time: timestamppb.New(e.Time), ClientAddress: e.ClientAddress, Reason: e.Reason}
	if e.KeyID != "" {
		p.Key = "keys/" + e.KeyID
	}
	return p
}

func apiKeyProto(k store.APIKey) *enhancev1.ApiKey {
	p := &enhancev1.ApiKey{
		Name:        "keys/" + k.ID,
		DisplayName: k.DisplayName,
		Scopes:      k.Scopes,
		CreateTime:  timestamppb.New(k.CreateTime),
		Prefix:      string(auth.APIKey) + "_" + k.ID,
	}
	if !k.ExpireTime.IsZero() {
		p.ExpireTime = timestamppb.New(k.ExpireTime)
	}
	if !k.LastUseTime.IsZero() {
		p.LastUseTime = timestamppb.New(k.LastUseTime)
	}
	if !k.PreviousExpireTime.IsZero() {
		p.PreviousSecretExpireTime = timestamppb.New(k.PreviousExpireTime)
	}
	return p
}
