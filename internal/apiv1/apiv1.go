// Package apiv1 implements the smartimage.enhance.v1 services on top of the
// domain packages: it converts between protobuf and domain types, and
// returns domain errors, which the server's error interceptor turns into
// statuses (package apierror).
package apiv1

import (
	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/access"
	"github.com/smartimage/enhance/internal/auth"
)

// Access lists every method of the API with what it asks of its caller.
// The server refuses a method without a row and will not start with a
// registered method missing here (access.Table.Covers); a test walks the
// proto descriptors to check the same.
var Access = access.Table{
	enhancev1.ImageService_Enhance_FullMethodName:  {Scope: auth.ScopeImagesEnhance, Idempotent: true, Bucket: access.ImagesBucket},
	enhancev1.ImageService_Upscale_FullMethodName:  {Scope: auth.ScopeImagesUpscale, Idempotent: true, Bucket: access.ImagesBucket},
	enhancev1.ImageService_Colorize_FullMethodName: {Scope: auth.ScopeImagesColorize, Idempotent: true, Bucket: access.ImagesBucket},
	// The streamed answers ask what the unary ones do (server.guardStream).
	enhancev1.ImageService_EnhanceStream_FullMethodName:  {Scope: auth.ScopeImagesEnhance, Idempotent: true, Bucket: access.ImagesBucket},
	enhancev1.ImageService_UpscaleStream_FullMethodName:  {Scope: auth.ScopeImagesUpscale, Idempotent: true, Bucket: access.ImagesBucket},
	enhancev1.ImageService_ColorizeStream_FullMethodName: {Scope: auth.ScopeImagesColorize, Idempotent: true, Bucket: access.ImagesBucket},

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
