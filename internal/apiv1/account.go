package apiv1

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/protobuf/types/known/timestamppb"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/account"
	"github.com/smartimage/enhance/internal/store"
)

// AccountServer implements enhancev1.AccountServiceServer.
type AccountServer struct {
	enhancev1.UnimplementedAccountServiceServer
	registrar *account.Registrar
	log       *slog.Logger
}

// NewAccountServer returns the account service.
func NewAccountServer(r *account.Registrar, log *slog.Logger) (*AccountServer, error) {
	if r == nil || log == nil {
		return nil, errors.New("apiv1: account server needs a registrar and a logger")
	}
	return &AccountServer{registrar: r, log: log}, nil
}

// CreateAccount implements enhancev1.AccountServiceServer.
func (s *AccountServer) CreateAccount(ctx context.Context, req *enhancev1.CreateAccountRequest) (*enhancev1.CreateAccountResponse, error) {
	reg, err := s.registrar.Register(ctx, req.GetEmail(), req.GetPassword())
	if err != nil {
		return nil, toStatus(ctx, s.log, err)
	}
	key := apiKeyProto(reg.KeyInfo)
	key.Secret = reg.Key.String()
	return &enhancev1.CreateAccountResponse{
		Account: &enhancev1.Account{
			Name:       "accounts/" + reg.Account.ID,
			Email:      reg.Account.Email,
			CreateTime: timestamppb.New(reg.Account.CreateTime),
		},
		ApiKey: key,
	}, nil
}

func apiKeyProto(k store.APIKey) *enhancev1.ApiKey {
	p := &enhancev1.ApiKey{
		Name:        "keys/" + k.ID,
		DisplayName: k.DisplayName,
		Scopes:      k.Scopes,
		CreateTime:  timestamppb.New(k.CreateTime),
	}
	if !k.ExpireTime.IsZero() {
		p.ExpireTime = timestamppb.New(k.ExpireTime)
	}
	return p
}
