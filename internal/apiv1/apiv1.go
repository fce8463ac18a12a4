// Package apiv1 implements the smartimage.enhance.v1 services on top of the
// domain packages: it converts between protobuf and domain types and maps
// domain errors to gRPC status, in one table (errors.go).
package apiv1

import (
	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/auth"
)

// Access is what a method asks of its caller.
type Access struct {
	// Public methods need no credential.
	Public bool
	// Scope the caller must hold: an API key's scopes, or a session's
	// (auth.SessionScopes).
	Scope string
	// SessionOnly methods refuse API keys: they are the signed-in owner's.
	SessionOnly bool
	// Idempotent methods honour an Idempotency-Key.
	Idempotent bool
}

// MethodAccess lists every method of the API; a method missing here is
// refused (the server checks the table covers every registered method).
var MethodAccess = map[string]Access{
	enhancev1.ImageService_Enhance_FullMethodName:  {Scope: auth.ScopeImagesEnhance, Idempotent: true},
	enhancev1.ImageService_Upscale_FullMethodName:  {Scope: auth.ScopeImagesUpscale, Idempotent: true},
	enhancev1.ImageService_Colorize_FullMethodName: {Scope: auth.ScopeImagesColorize, Idempotent: true},

	enhancev1.AccountService_CreateAccount_FullMethodName:   {Public: true},
	enhancev1.AccountService_CreateSession_FullMethodName:   {Public: true},
	enhancev1.AccountService_DeleteSession_FullMethodName:   {SessionOnly: true},
	enhancev1.AccountService_GetAccount_FullMethodName:      {Scope: auth.ScopeKeysManage},
	enhancev1.AccountService_DeleteAccount_FullMethodName:   {SessionOnly: true},
	enhancev1.AccountService_ExportAccount_FullMethodName:   {SessionOnly: true},
	enhancev1.AccountService_ListAuditEvents_FullMethodName: {Scope: auth.ScopeKeysManage},

	enhancev1.KeyService_ListKeys_FullMethodName:  {Scope: auth.ScopeKeysManage},
	enhancev1.KeyService_CreateKey_FullMethodName: {Scope: auth.ScopeKeysManage},
	enhancev1.KeyService_GetKey_FullMethodName:    {Scope: auth.ScopeKeysManage},
	enhancev1.KeyService_UpdateKey_FullMethodName: {Scope: auth.ScopeKeysManage},
	enhancev1.KeyService_RotateKey_FullMethodName: {Scope: auth.ScopeKeysManage},
	enhancev1.KeyService_DeleteKey_FullMethodName: {Scope: auth.ScopeKeysManage},

	enhancev1.UsageService_GetUsage_FullMethodName:   {Scope: auth.ScopeUsageRead},
	enhancev1.UsageService_GetPricing_FullMethodName: {Public: true},
}
