package apiv1

import (
	"context"
	"errors"
	"time"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/apikeys"
	"github.com/smartimage/enhance/internal/clientaddr"
)

// KeyServer implements enhancev1.KeyServiceServer.
type KeyServer struct {
	enhancev1.UnimplementedKeyServiceServer
	keys *apikeys.Manager
}

// NewKeyServer returns the key service.
func NewKeyServer(m *apikeys.Manager) (*KeyServer, error) {
	if m == nil {
		return nil, errors.New("apiv1: key server needs a manager")
	}
	return &KeyServer{keys: m}, nil
}

// ListKeys implements enhancev1.KeyServiceServer.
func (s *KeyServer) ListKeys(ctx context.Context, _ *enhancev1.ListKeysRequest) (*enhancev1.ListKeysResponse, error) {
	keys, err := s.keys.List(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	resp := &enhancev1.ListKeysResponse{}
	for _, k := range keys {
		resp.ApiKeys = append(resp.ApiKeys, apiKeyProto(k))
	}
	return resp, nil
}

// CreateKey implements enhancev1.KeyServiceServer.
func (s *KeyServer) CreateKey(ctx context.Context, req *enhancev1.CreateKeyRequest) (*enhancev1.CreateKeyResponse, error) {
	spec := apikeys.Spec{DisplayName: req.GetDisplayName(), Scopes: req.GetScopes()}
	if req.ExpireTime != nil {
		if err := req.GetExpireTime().CheckValid(); err != nil {
			return nil, apierror.Paramf("expireTime", apikeys.ErrInvalid, "expireTime is not a valid time")
		}
		spec.ExpireTime = req.GetExpireTime().AsTime()
	}
	created, err := s.keys.Create(ctx, principal(ctx), spec, clientaddr.From(ctx))
	if err != nil {
		return nil, err
	}
	key := apiKeyProto(created.Key)
	key.Secret = created.Secret
	return &enhancev1.CreateKeyResponse{ApiKey: key}, nil
}

// GetKey implements enhancev1.KeyServiceServer.
func (s *KeyServer) GetKey(ctx context.Context, req *enhancev1.GetKeyRequest) (*enhancev1.GetKeyResponse, error) {
	k, err := s.keys.Get(ctx, principal(ctx), req.GetKeyId())
	if err != nil {
		return nil, err
	}
	return &enhancev1.GetKeyResponse{ApiKey: apiKeyProto(k)}, nil
}

// UpdateKey implements enhancev1.KeyServiceServer.
func (s *KeyServer) UpdateKey(ctx context.Context, req *enhancev1.UpdateKeyRequest) (*enhancev1.UpdateKeyResponse, error) {
	k, err := s.keys.Rename(ctx, principal(ctx), req.GetKeyId(), req.GetDisplayName(), clientaddr.From(ctx))
	if err != nil {
		return nil, err
	}
	return &enhancev1.UpdateKeyResponse{ApiKey: apiKeyProto(k)}, nil
}

// RotateKey implements enhancev1.KeyServiceServer.
func (s *KeyServer) RotateKey(ctx context.Context, req *enhancev1.RotateKeyRequest) (*enhancev1.RotateKeyResponse, error) {
	var grace time.Duration
	if req.GracePeriod != nil {
		if err := req.GetGracePeriod().CheckValid(); err != nil {
			return nil, apierror.Paramf("gracePeriod", apikeys.ErrInvalid, "gracePeriod is not a valid duration; give seconds, like \"3600s\"")
		}
		grace = req.GetGracePeriod().AsDuration()
	}
	created, err := s.keys.Rotate(ctx, principal(ctx), req.GetKeyId(), grace, clientaddr.From(ctx))
	if err != nil {
		return nil, err
	}
	key := apiKeyProto(created.Key)
	key.Secret = created.Secret
	return &enhancev1.RotateKeyResponse{ApiKey: key}, nil
}

// DeleteKey implements enhancev1.KeyServiceServer.
func (s *KeyServer) DeleteKey(ctx context.Context, req *enhancev1.DeleteKeyRequest) (*enhancev1.DeleteKeyResponse, error) {
	if err := s.keys.Revoke(ctx, principal(ctx), req.GetKeyId(), clientaddr.From(ctx)); err != nil {
		return nil, err
	}
	return &enhancev1.DeleteKeyResponse{}, nil
}
