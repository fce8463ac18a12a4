// Package apiv1 implements the smartimage.enhance.v1 services on top of the
// domain packages: it converts between protobuf and domain types and maps
// domain errors to gRPC status, in one table (errors.go).
package apiv1

import (
	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/auth"
)

// MethodScopes names the scope each authenticated method needs.
var MethodScopes = map[string]string{
	enhancev1.ImageService_Enhance_FullMethodName:  auth.ScopeImagesEnhance,
	enhancev1.ImageService_Upscale_FullMethodName:  auth.ScopeImagesUpscale,
	enhancev1.ImageService_Colorize_FullMethodName: auth.ScopeImagesColorize,
}

// PublicMethods need no API key.
var PublicMethods = map[string]bool{
	enhancev1.AccountService_CreateAccount_FullMethodName: true,
}
