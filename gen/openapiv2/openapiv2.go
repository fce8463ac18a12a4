// Package openapiv2 embeds the OpenAPI document that `make generate` writes
// beside this file, so the gateway can serve it. This file is the one
// hand-written file under gen/; generation never touches it.
package openapiv2

import _ "embed"

// Document is the merged OpenAPI v2 description of the REST API.
//
//go:embed api.swagger.json
var Document []byte
