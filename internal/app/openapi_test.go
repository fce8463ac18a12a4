package app

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
	"github.com/smartimage/enhance/internal/access"
	"github.com/smartimage/enhance/internal/apierror"
	"github.com/smartimage/enhance/internal/apiv1"
	"github.com/smartimage/enhance/internal/auth"
	"github.com/smartimage/enhance/internal/config"
	"github.com/smartimage/enhance/internal/credits"
	"github.com/smartimage/enhance/internal/gateway"
	"github.com/smartimage/enhance/internal/openapi"
)

// The tests in this file hold /openapi.json (internal/openapi) to the
// server: the routes, the request and answer schemas against the protos,
// every documented route called and its answer checked against what the
// document says of it (status, content type, headers, body schema), the
// error answers, and a client generated from the document by
// openapi-typescript.

// spec is the served document, decoded, with what the checks need.
type spec struct {
	doc map[string]any
}

// loadSpec fetches /openapi.json from s.
func loadSpec(t *testing.T, s *testServer) *spec {
	t.Helper()
	resp, err := s.http.Get(s.base + "/openapi.json")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, openapi.JSON(), body, "the served document is internal/openapi's")
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	require.NoError(t, dec.Decode(&doc))
	require.Equal(t, "3.1.0", doc["openapi"])
	return &spec{doc: doc}
}

// deref follows a local $ref ("#/components/schemas/X") as often as needed.
func (sp *spec) deref(v any) map[string]any {
	m, _ := v.(map[string]any)
	for m != nil {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var cur any = sp.doc
		for _, part := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = cur.(map[string]any)[strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~")]
		}
		m, _ = cur.(map[string]any)
		if m == nil {
			panic("unresolved $ref " + ref)
		}
	}
	return m
}

// specOp is one documented operation.
type specOp struct {
	method, path string
	op           map[string]any
	// params are the path item's and the operation's, dereferenced.
	params []map[string]any
}

func (o specOp) String() string { return o.method + " " + o.path }

func (o specOp) id() string { return o.op["operationId"].(string) }

// ops lists every documented operation, sorted.
func (sp *spec) ops() []specOp {
	var out []specOp
	for path, item := range sp.doc["paths"].(map[string]any) {
		it := item.(map[string]any)
		for method, op := range it {
			if method == "parameters" {
				continue
			}
			o := specOp{method: strings.ToUpper(method), path: path, op: op.(map[string]any)}
			for _, list := range []any{it["parameters"], o.op["parameters"]} {
				ps, _ := list.([]any)
				for _, p := range ps {
					o.params = append(o.params, sp.deref(p))
				}
			}
			out = append(out, o)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

func (sp *spec) op(t testing.TB, method, path string) specOp {
	t.Helper()
	for _, o := range sp.ops() {
		if o.method == method && o.path == path {
			return o
		}
	}
	t.Fatalf("%s %s is not in the document", method, path)
	return specOp{}
}

// paramNames are the names of o's parameters in one place ("query" ...).
func (o specOp) paramNames(in string) []string {
	var names []string
	for _, p := range o.params {
		if p["in"] == in {
			names = append(names, p["name"].(string))
		}
	}
	slices.Sort(names)
	return names
}

// response is the documented answer for a status: its own, or default.
// explicit says which.
func (sp *spec) response(o specOp, status int) (resp map[string]any, explicit bool) {
	rs := o.op["responses"].(map[string]any)
	if r, ok := rs[strconv.Itoa(status)]; ok {
		return sp.deref(r), true
	}
	if r, ok := rs["default"]; ok {
		return sp.deref(r), false
	}
	return nil, false
}

// checkAnswer holds one real answer to o to what the document says of it:
// a documented status (404 and 405 for routing may fall to default), a
// documented content type, a body that fits the schema, every required
// header present, every header present that the document describes fitting
// its schema, and no X-, RateLimit or Retry-After header it leaves out.
func (sp *spec) checkAnswer(t testing.TB, o specOp, a answer) {
	t.Helper()
	require.NoError(t, a.err)
	resp, explicit := sp.response(o, a.status)
	require.NotNil(t, resp, "%s answered %d, which it does not document: %s", o, a.status, a.body)
	if !explicit {
		require.True(t, a.status >= 400, "%s: a success must be documented by its own status", o)
		require.Contains(t, []string{string(apierror.NotFound), string(apierror.MethodNotAllowed)}, a.problem.Code,
			"%s answered %d (%s), which only default covers: document it: %s", o, a.status, a.problem.Code, a.body)
	}
	what := fmt.Sprintf("%s → %d", o, a.status)
	content, _ := resp["content"].(map[string]any)
	mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type"))
	if len(content) == 0 {
		require.Empty(t, a.body, "%s: no body documented", what)
	} else {
		media, ok := content[mt].(map[string]any)
		require.True(t, ok, "%s: content type %q is not documented (%v)", what, mt, keys(content))
		if o.method != http.MethodHead {
			sp.checkBody(t, what, mt, media, a.body)
		}
	}
	headers, _ := resp["headers"].(map[string]any)
	documented := map[string]bool{}
	for name, h := range headers {
		documented[http.CanonicalHeaderKey(name)] = true
		hd := sp.deref(h)
		v := a.header.Get(name)
		if hd["required"] == true {
			require.NotEmpty(t, v, "%s: header %s is required", what, name)
		}
		if v != "" {
			require.NoError(t, sp.validate(hd["schema"], headerValue(sp.deref(hd["schema"]), v), name), "%s: header %s: %q", what, name, v)
		}
	}
	for name := range a.header {
		lower := strings.ToLower(name)
		if lower == "x-content-type-options" {
			continue // transport hygiene on every answer (README, Dashboard), not part of any one operation's contract
		}
		if strings.HasPrefix(lower, "x-") || strings.HasPrefix(lower, "ratelimit") || lower == "retry-after" || lower == "warning" || lower == "allow" {
			require.True(t, documented[http.CanonicalHeaderKey(name)], "%s: header %s is sent but not documented", what, name)
		}
	}
}

// checkBody checks a body against its documented media type.
func (sp *spec) checkBody(t testing.TB, what, mt string, media map[string]any, body []byte) {
	t.Helper()
	switch {
	case mt == "application/json":
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		var v any
		require.NoError(t, dec.Decode(&v), "%s: body is not JSON: %s", what, body)
		require.NoError(t, sp.validate(media["schema"], v, "body"), "%s: %s", what, body)
	case strings.HasPrefix(mt, "image/"):
		require.Equal(t, mt, http.DetectContentType(body), "%s: the bytes are not %s", what, mt)
	default:
		t.Fatalf("%s: no check for %s bodies", what, mt)
	}
}

// headerValue types a header's text as its schema asks.
func headerValue(schema map[string]any, v string) any {
	if schema["type"] == "integer" {
		if _, err := strconv.ParseInt(v, 10, 64); err == nil {
			return json.Number(v)
		}
	}
	return v
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// validate checks v (decoded with UseNumber) against a JSON Schema, in the
// subset the document uses. A keyword it does not know is an error, so a
// schema it cannot check never passes unchecked.
func (sp *spec) validate(schemaV any, v any, at string) error {
	schema := sp.deref(schemaV)
	if schema == nil {
		return fmt.Errorf("%s: no schema", at)
	}
	for k := range schema {
		switch k {
		case "type", "properties", "required", "additionalProperties", "items", "enum", "const", "pattern",
			"minimum", "maximum", "minLength", "maxLength", "format", "description", "example",
			"contentEncoding", "contentMediaType":
		default:
			return fmt.Errorf("%s: the test's validator does not know %q", at, k)
		}
	}
	if types, ok := schema["type"]; ok {
		var allowed []string
		switch ts := types.(type) {
		case string:
			allowed = []string{ts}
		case []any:
			for _, x := range ts {
				allowed = append(allowed, x.(string))
			}
		}
		if !slices.Contains(allowed, jsonType(v)) && !(jsonType(v) == "integer" && slices.Contains(allowed, "number")) {
			return fmt.Errorf("%s: %v is %s, not %v", at, v, jsonType(v), allowed)
		}
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		return fmt.Errorf("%s: %v is not one of %v", at, v, enum)
	}
	if c, ok := schema["const"]; ok && fmt.Sprint(c) != fmt.Sprint(v) {
		return fmt.Errorf("%s: %v is not %v", at, v, c)
	}
	switch x := v.(type) {
	case string:
		if p, ok := schema["pattern"].(string); ok && !regexp.MustCompile(p).MatchString(x) {
			return fmt.Errorf("%s: %q does not match %s", at, x, p)
		}
		if schema["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, x); err != nil {
				return fmt.Errorf("%s: %q is not a date-time", at, x)
			}
		}
	case json.Number:
		f, _ := x.Float64()
		if m, ok := schema["minimum"].(json.Number); ok {
			if lo, _ := m.Float64(); f < lo {
				return fmt.Errorf("%s: %v is under %v", at, x, m)
			}
		}
		if m, ok := schema["maximum"].(json.Number); ok {
			if hi, _ := m.Float64(); f > hi {
				return fmt.Errorf("%s: %v is over %v", at, x, m)
			}
		}
	case []any:
		for i, item := range x {
			if items, ok := schema["items"]; ok {
				if err := sp.validate(items, item, fmt.Sprintf("%s[%d]", at, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		for _, r := range asStrings(schema["required"]) {
			if _, ok := x[r]; !ok {
				return fmt.Errorf("%s: required %s is missing", at, r)
			}
		}
		for k, val := range x {
			if ps, ok := props[k]; ok {
				if err := sp.validate(ps, val, at+"."+k); err != nil {
					return err
				}
				continue
			}
			switch ap := schema["additionalProperties"].(type) {
			case bool:
				if !ap {
					return fmt.Errorf("%s: %s is not a documented field", at, k)
				}
			case map[string]any:
				if err := sp.validate(ap, val, at+"."+k); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func asStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = x.(string)
	}
	return out
}

// protoRoute is one REST binding of a gRPC method, from its
// google.api.http annotation, with its path in the document's spelling
// ({key_id} becomes {keyId}, the field's JSON name).
type protoRoute struct {
	method, path string
	rpc          protoreflect.MethodDescriptor
	body         string
	responseBody string
	pathFields   []string // JSON names
}

func protoRoutes(t testing.TB) []protoRoute {
	t.Helper()
	var out []protoRoute
	pkg := enhancev1.File_smartimage_enhance_v1_image_proto.Package()
	protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			svc := fd.Services().Get(i)
			for j := range svc.Methods().Len() {
				m := svc.Methods().Get(j)
				rule, _ := proto.GetExtension(m.Options(), annotations.E_Http).(*annotations.HttpRule)
				if rule == nil {
					continue
				}
				for _, b := range append([]*annotations.HttpRule{rule}, rule.GetAdditionalBindings()...) {
					out = append(out, newProtoRoute(t, b, m))
				}
			}
		}
		return true
	})
	require.NotEmpty(t, out)
	return out
}

var templateVar = regexp.MustCompile(`\{([a-z_.]+)(=[^}]*)?\}`)

func newProtoRoute(t testing.TB, b *annotations.HttpRule, m protoreflect.MethodDescriptor) protoRoute {
	var method, tpl string
	switch p := b.GetPattern().(type) {
	case *annotations.HttpRule_Get:
		method, tpl = "GET", p.Get
	case *annotations.HttpRule_Post:
		method, tpl = "POST", p.Post
	case *annotations.HttpRule_Put:
		method, tpl = "PUT", p.Put
	case *annotations.HttpRule_Patch:
		method, tpl = "PATCH", p.Patch
	case *annotations.HttpRule_Delete:
		method, tpl = "DELETE", p.Delete
	default:
		t.Fatalf("%s: an HTTP rule this test cannot read", m.FullName())
	}
	r := protoRoute{method: method, rpc: m, body: b.GetBody(), responseBody: b.GetResponseBody()}
	r.path = templateVar.ReplaceAllStringFunc(tpl, func(v string) string {
		name := templateVar.FindStringSubmatch(v)[1]
		fd := m.Input().Fields().ByName(protoreflect.Name(name))
		require.NotNil(t, fd, "%s: path variable %s is no field", m.FullName(), name)
		r.pathFields = append(r.pathFields, fd.JSONName())
		return "{" + fd.JSONName() + "}"
	})
	return r
}

// frontRoutes are the routes the gateway's front handler serves itself.
var frontRoutes = []string{"GET /healthz", "HEAD /healthz", "GET /readyz", "HEAD /readyz", "GET /openapi.json", "HEAD /openapi.json"}

// TestOpenAPIDescribesEveryRoute: the document has exactly the server's
// routes, each with the security its method's access rule asks, the path
// and query parameters and JSON body of its request message, and the
// answer of its response message.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	sp := loadSpec(t, s)

	var served, documented []string
	routes := map[string]protoRoute{}
	for _, r := range protoRoutes(t) {
		served = append(served, r.method+" "+r.path)
		routes[r.method+" "+r.path] = r
	}
	served = append(served, frontRoutes...)
	for _, o := range sp.ops() {
		documented = append(documented, o.String())
	}
	slices.Sort(served)
	require.Equal(t, served, documented, "the document lists exactly the routes the server serves")

	ids := map[string]bool{}
	for _, o := range sp.ops() {
		require.False(t, ids[o.id()], "operationId %s repeated", o.id())
		ids[o.id()] = true
		r, ok := routes[o.String()]
		if !ok {
			require.Equal(t, []any{}, o.op["security"], "%s needs no credential", o)
			continue
		}
		t.Run(o.String(), func(t *testing.T) {
			rule, ok := apiv1.Access.Lookup("/" + string(r.rpc.Parent().FullName()) + "/" + string(r.rpc.Name()))
			require.True(t, ok)
			require.Equal(t, wantSecurity(rule), o.op["security"], "security follows the access table")

			require.Equal(t, r.pathFields, o.paramNames("path"))
			in := r.rpc.Input()
			switch r.body {
			case "":
				// The request is the path and the query string.
				var want []string
				for i := range in.Fields().Len() {
					if f := in.Fields().Get(i); !slices.Contains(r.pathFields, f.JSONName()) {
						want = append(want, f.JSONName())
					}
				}
				slices.Sort(want)
				require.Equal(t, want, nilIfEmpty(o.paramNames("query")), "query parameters are the request's fields")
				require.Nil(t, o.op["requestBody"])
			case "*":
				rb := sp.deref(o.op["requestBody"])
				require.Equal(t, true, rb["required"])
				media := rb["content"].(map[string]any)["application/json"].(map[string]any)
				require.Equal(t, "#/components/schemas/"+string(in.Name()), media["schema"].(map[string]any)["$ref"])
				if ex, ok := media["example"]; ok {
					require.NoError(t, sp.validate(media["schema"], ex, "example"), "the example fits the schema")
				}
			default:
				t.Fatalf("body %q: this test knows only none and *", r.body)
			}

			ok200 := sp.deref(o.op["responses"].(map[string]any)["200"])
			content := ok200["content"].(map[string]any)
			out := r.rpc.Output()
			switch r.responseBody {
			case "":
				schema := content["application/json"].(map[string]any)["schema"].(map[string]any)
				want := string(out.Name())
				if out.Fields().Len() == 0 {
					want = "Empty"
				}
				require.Equal(t, "#/components/schemas/"+want, schema["$ref"])
				require.Len(t, content, 1)
			case "image":
				require.ElementsMatch(t, []string{"image/png", "image/jpeg", "image/webp", "application/json"}, keys(content))
				require.Equal(t, "#/components/schemas/Quote", content["application/json"].(map[string]any)["schema"].(map[string]any)["$ref"])
				// The response's other fields are headers.
				headers := ok200["headers"].(map[string]any)
				for i := range out.Fields().Len() {
					f := out.Fields().Get(i)
					if string(f.Name()) == r.responseBody {
						continue
					}
					h, ok := imageResponseHeaders[f.JSONName()]
					require.True(t, ok, "%s.%s: which header carries it? (imageResponseHeaders)", out.Name(), f.JSONName())
					require.Contains(t, headers, h)
					require.Equal(t, true, sp.deref(headers[h])["required"])
				}
			default:
				t.Fatalf("response_body %q: this test knows only none and image", r.responseBody)
			}
		})
	}
}

// imageResponseHeaders says which header carries each field of an image
// response other than the image.
var imageResponseHeaders = map[string]string{
	"widthPixels": "X-Image-Width", "heightPixels": "X-Image-Height", "steps": "X-Enhancement-Steps",
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

// wantSecurity is the security requirement an access rule asks for, as
// the document writes it: a session where one may call, an API key (in
// the header or the query string) with the scope where a key may.
func wantSecurity(rule access.Rule) any {
	reqs := []any{}
	if rule.Public {
		return reqs
	}
	if rule.SessionOnly || slices.Contains(auth.SessionScopes, rule.Scope) {
		reqs = append(reqs, map[string]any{"Session": []any{}})
	}
	if !rule.SessionOnly {
		reqs = append(reqs, map[string]any{"ApiKey": []any{rule.Scope}}, map[string]any{"ApiKeyQuery": []any{rule.Scope}})
	}
	return reqs
}

// TestOpenAPISchemasMatchTheProtos: every JSON schema named after a proto
// message has exactly its protojson fields, with the JSON types protojson
// writes (a field added to a proto and not to the document fails here),
// every message a JSON route carries has one, and the problem schema is
// the gateway's Problem with every reason there is.
func TestOpenAPISchemasMatchTheProtos(t *testing.T) {
	t.Parallel()
	var doc map[string]any
	dec := json.NewDecoder(bytes.NewReader(openapi.JSON()))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&doc))
	sp := &spec{doc: doc}
	schemas := doc["components"].(map[string]any)["schemas"].(map[string]any)

	// The messages the JSON routes carry, and every message inside them,
	// by side: a request's refuse unknown fields, an answer's always hold
	// every field (EmitUnpopulated).
	need := map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	requestSide, answerSide := map[protoreflect.FullName]bool{}, map[protoreflect.FullName]bool{}
	var add func(md protoreflect.MessageDescriptor, side map[protoreflect.FullName]bool)
	add = func(md protoreflect.MessageDescriptor, side map[protoreflect.FullName]bool) {
		if _, wkt := wellKnownJSON[md.FullName()]; wkt || side[md.FullName()] {
			return
		}
		need[md.FullName()], side[md.FullName()] = md, true
		for i := range md.Fields().Len() {
			f := md.Fields().Get(i)
			if f.IsMap() {
				f = f.MapValue()
			}
			if f.Message() != nil {
				add(f.Message(), side)
			}
		}
	}
	inputs := map[protoreflect.FullName]protoRoute{}
	for _, r := range protoRoutes(t) {
		if r.body == "*" {
			add(r.rpc.Input(), requestSide)
			inputs[r.rpc.Input().FullName()] = r
		}
		if r.responseBody == "" && r.rpc.Output().Fields().Len() > 0 {
			add(r.rpc.Output(), answerSide)
		}
	}
	// A schema named after any other message of the package must match it too.
	pkg := enhancev1.File_smartimage_enhance_v1_image_proto.Package()
	protoregistry.GlobalFiles.RangeFilesByPackage(pkg, func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Messages().Len() {
			md := fd.Messages().Get(i)
			if _, ok := schemas[string(md.Name())]; ok && need[md.FullName()] == nil {
				need[md.FullName()] = md
			}
		}
		return true
	})
	require.NotEmpty(t, need)

	for _, md := range need {
		t.Run(string(md.Name()), func(t *testing.T) {
			schema, ok := schemas[string(md.Name())].(map[string]any)
			require.True(t, ok, "no schema %s in the document", md.Name())
			props, _ := schema["properties"].(map[string]any)
			r, isInput := inputs[md.FullName()]
			var want []string
			for i := range md.Fields().Len() {
				f := md.Fields().Get(i)
				if isInput && slices.Contains(r.pathFields, f.JSONName()) {
					continue // given by the path, refused in the body
				}
				want = append(want, f.JSONName())
				p, ok := props[f.JSONName()]
				require.True(t, ok, "%s.%s (%s) is not in the document", md.Name(), f.JSONName(), f.FullName())
				require.NoError(t, fieldMatches(sp, f, p), "%s.%s", md.Name(), f.JSONName())
			}
			require.ElementsMatch(t, want, keys(props), "%s: the document's fields are the message's", md.Name())
			if requestSide[md.FullName()] {
				require.Equal(t, false, schema["additionalProperties"], "%s: unknown fields are refused", md.Name())
			}
			if answerSide[md.FullName()] {
				require.ElementsMatch(t, want, asStrings(schema["required"]), "%s: every field is always present", md.Name())
			}
		})
	}

	t.Run("Problem", func(t *testing.T) {
		problem := schemas["Problem"].(map[string]any)
		var fields, required []string
		pt := reflect.TypeFor[gateway.Problem]()
		for i := range pt.NumField() {
			name, opts, _ := strings.Cut(pt.Field(i).Tag.Get("json"), ",")
			fields = append(fields, name)
			if opts != "omitempty" {
				required = append(required, name)
			}
		}
		require.ElementsMatch(t, fields, keys(problem["properties"].(map[string]any)))
		require.ElementsMatch(t, required, asStrings(problem["required"]))
		var reasons []string
		for _, r := range apierror.Reasons {
			reasons = append(reasons, string(r))
		}
		code := problem["properties"].(map[string]any)["code"].(map[string]any)
		require.ElementsMatch(t, reasons, asStrings(code["enum"]), "code lists every reason (apierror.Reasons)")
	})
}

// wellKnownJSON are the well-known types protojson writes as strings.
var wellKnownJSON = map[protoreflect.FullName]string{
	"google.protobuf.Timestamp": "date-time",
	"google.protobuf.Duration":  "duration",
}

// fieldMatches checks a documented property against a proto field: the
// JSON type protojson writes (null allowed only for message fields, which
// protojson writes as null when unset), and the schema a message refers to.
func fieldMatches(sp *spec, f protoreflect.FieldDescriptor, prop any) error {
	p := prop.(map[string]any)
	if f.IsMap() {
		if p["type"] != "object" {
			return fmt.Errorf("a map is an object, not %v", p["type"])
		}
		return valueMatches(sp, f.MapValue(), p["additionalProperties"])
	}
	if f.IsList() {
		if p["type"] != "array" {
			return fmt.Errorf("a repeated field is an array, not %v", p["type"])
		}
		return valueMatches(sp, f, p["items"])
	}
	return valueMatches(sp, f, prop)
}

func valueMatches(sp *spec, f protoreflect.FieldDescriptor, prop any) error {
	p, _ := prop.(map[string]any)
	if p == nil {
		return fmt.Errorf("no schema")
	}
	if f.Kind() == protoreflect.MessageKind {
		if format, ok := wellKnownJSON[f.Message().FullName()]; ok {
			if !typeIs(p["type"], "string", true) {
				return fmt.Errorf("%s is a string, not %v", f.Message().FullName(), p["type"])
			}
			if format == "date-time" && p["format"] != "date-time" {
				return fmt.Errorf("a Timestamp has format date-time")
			}
			return nil
		}
		if want := "#/components/schemas/" + string(f.Message().Name()); p["$ref"] != want {
			return fmt.Errorf("refers to %v, not %s", p["$ref"], want)
		}
		return nil
	}
	schema := sp.deref(p)
	var want string
	switch f.Kind() {
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.EnumKind,
		protoreflect.Int64Kind, protoreflect.Uint64Kind, protoreflect.Sint64Kind, protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind:
		want = "string"
	case protoreflect.BoolKind:
		want = "boolean"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		want = "number"
	default:
		want = "integer"
	}
	if !typeIs(schema["type"], want, false) {
		return fmt.Errorf("%s is %s in JSON, not %v", f.Kind(), want, schema["type"])
	}
	if f.Kind() == protoreflect.BytesKind && schema["contentEncoding"] != "base64" {
		return fmt.Errorf("bytes are base64 (contentEncoding)")
	}
	return nil
}

// typeIs reports whether a schema's type is want (or [want, "null"] when
// nullable may be).
func typeIs(t any, want string, nullable bool) bool {
	switch x := t.(type) {
	case string:
		return x == want
	case []any:
		return nullable && len(x) == 2 && x[0] == want && x[1] == "null"
	}
	return false
}

// TestOpenAPIRoutesAnswerAsDocumented calls every documented operation on a
// real server, with the documented credential and the document's example
// bodies, and holds every answer to the document; a method a documented
// path does not list must answer 405.
func TestOpenAPIRoutesAnswerAsDocumented(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	sp := loadSpec(t, s)
	called := map[string]bool{}
	do := func(t *testing.T, method, path, query string, body []byte, contentType string, headers map[string]string) answer {
		t.Helper()
		tpl := regexp.MustCompile(`/keys/[^/:]+`).ReplaceAllString(path, "/keys/{keyId}")
		o := sp.op(t, method, tpl)
		target := path
		if query != "" {
			target += "?" + query
		}
		a := s.send(method, target, contentType, body, headers)
		sp.checkAnswer(t, o, a)
		if a.status/100 == 2 {
			called[o.String()] = true
		}
		return a
	}
	example := func(method, path string) []byte {
		o := sp.op(t, method, path)
		media := sp.deref(o.op["requestBody"])["content"].(map[string]any)["application/json"].(map[string]any)
		b, err := json.Marshal(media["example"])
		require.NoError(t, err)
		return b
	}
	jsonOf := func(a answer, v any) {
		require.NoError(t, json.Unmarshal(a.body, v))
	}

	t.Run("service", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", "/openapi.json"} {
			for _, m := range []string{http.MethodGet, http.MethodHead} {
				require.Equal(t, http.StatusOK, do(t, m, path, "", nil, "", nil).status)
			}
		}
	})

	t.Run("accounts and keys", func(t *testing.T) {
		// The examples are the README's: you@example.com, "a long passphrase".
		require.Equal(t, http.StatusOK, do(t, http.MethodPost, "/v1/accounts", "", example("POST", "/v1/accounts"), "application/json", nil).status)
		var ses struct{ Token string }
		a := do(t, http.MethodPost, "/v1/sessions", "", example("POST", "/v1/sessions"), "application/json", nil)
		require.Equal(t, http.StatusOK, a.status)
		jsonOf(a, &ses)
		session := bearer(ses.Token)
		for _, path := range []string{"/v1/account", "/v1/account/export", "/v1/keys", "/v1/usage", "/v1/pricing"} {
			require.Equal(t, http.StatusOK, do(t, http.MethodGet, path, "", nil, "", session).status, path)
		}
		require.Equal(t, http.StatusOK, do(t, http.MethodGet, "/v1/audit-events", "pageSize=10", nil, "", session).status)
		require.Equal(t, http.StatusOK, do(t, http.MethodGet, "/v1/usage", "pageSize=5", nil, "", map[string]string{"x-api-key": s.key}).status)

		var created struct{ APIKey apiKey }
		a = do(t, http.MethodPost, "/v1/keys", "", example("POST", "/v1/keys"), "application/json", session)
		require.Equal(t, http.StatusOK, a.status)
		jsonOf(a, &created)
		// Manage it with a key that may: the key answers carry the rate-limit headers.
		manager := map[string]string{"x-api-key": s.createKey(t, ses.Token, "manager", auth.ScopeKeysManage, auth.ScopeUsageRead)}
		key := "/v1/keys/" + created.APIKey.id()
		require.Equal(t, http.StatusOK, do(t, http.MethodGet, key, "", nil, "", manager).status)
		require.Equal(t, http.StatusOK, do(t, http.MethodPatch, key, "", example("PATCH", "/v1/keys/{keyId}"), "application/json", manager).status)
		require.Equal(t, http.StatusOK, do(t, http.MethodPost, key+":rotate", "", example("POST", "/v1/keys/{keyId}:rotate"), "application/json", session).status)
		require.Equal(t, http.StatusOK, do(t, http.MethodGet, "/v1/account", "", nil, "", manager).status)
		require.Equal(t, http.StatusOK, do(t, http.MethodGet, "/v1/audit-events", "", nil, "", manager).status)
		require.Equal(t, http.StatusOK, do(t, http.MethodDelete, key, "", nil, "", manager).status)
		// The key query fallback answers with a Warning, as documented.
		a = do(t, http.MethodGet, "/v1/keys", "api_key="+url.QueryEscape(manager["x-api-key"]), nil, "", nil)
		require.Equal(t, http.StatusOK, a.status)
		require.NotEmpty(t, a.header.Get("Warning"))

		require.Equal(t, http.StatusOK, do(t, http.MethodDelete, "/v1/sessions/current", "", nil, "", session).status)
		var ses2 struct{ Token string }
		a = do(t, http.MethodPost, "/v1/sessions", "", example("POST", "/v1/sessions"), "application/json", nil)
		jsonOf(a, &ses2)
		require.Equal(t, http.StatusOK, do(t, http.MethodDelete, "/v1/account", "", example("DELETE", "/v1/account"), "application/json", bearer(ses2.Token)).status)
	})

	t.Run("images", func(t *testing.T) {
		s.grantDev(t, 100)
		s.setDevPlan(t, "pro") // more requests a minute than this makes
		key := map[string]string{"x-api-key": s.key}
		photo := tinyPNG(t, 24, 16)
		gray := tinyGrayJPEG(t, 24, 16)
		origin := originOf(t, map[string][]byte{"/ref.png": photo})
		hints := []map[string]any{{"points": []map[string]int{{"x": 2, "y": 2}}, "color": "#c8202a", "widthPixels": 3}}
		for _, path := range []string{"/v1/enhance", "/v1/upscale", "/v1/colorize"} {
			t.Run(path, func(t *testing.T) {
				o := sp.op(t, http.MethodPost, path)
				content := sp.deref(o.op["requestBody"])["content"].(map[string]any)
				src, extra := photo, ""
				if path == "/v1/colorize" {
					// A raw colorize needs a reference: by URL, in the query.
					src, extra = gray, "referenceImageUrl="+url.QueryEscape(origin.URL+"/ref.png")
				}
				withExtra := func(q string) string {
					if extra == "" {
						return q
					}
					if q == "" {
						return extra
					}
					return q + "&" + extra
				}
				// Every documented body kind.
				for _, mt := range keys(content) {
					var body []byte
					ct, q := mt, withExtra("")
					switch mt {
					case "application/json":
						req := map[string]any{"imageBase64": base64.StdEncoding.EncodeToString(src)}
						if path == "/v1/colorize" {
							req["hints"] = hints
						}
						body, _ = json.Marshal(req)
						q = ""
					case "multipart/form-data":
						var buf bytes.Buffer
						mw := multipart.NewWriter(&buf)
						fw, err := mw.CreateFormFile("image", "photo")
						require.NoError(t, err)
						fw.Write(src)
						require.NoError(t, mw.Close())
						body, ct = buf.Bytes(), mw.FormDataContentType()
					case "image/png", "image/jpeg", "image/webp", "application/octet-stream":
						// The engine reads the bytes for what they are,
						// whatever the label.
						body = src
					default:
						t.Fatalf("no request for documented body %s", mt)
					}
					a := do(t, http.MethodPost, path, q, body, ct, key)
					require.Equal(t, http.StatusOK, a.status, "%s: %s", mt, a.body)
					require.NotEmpty(t, a.header.Get("X-Credits-Charged"))
					require.NotEmpty(t, a.header.Get("X-Credits-Remaining"))
					require.NotEmpty(t, a.header.Get("X-RateLimit-Remaining"))
				}
				// Every output format answers its documented content type.
				format := sp.deref(sp.deref(sp.paramSchema(o, "outputFormat")))
				for _, f := range format["enum"].([]any) {
					a := do(t, http.MethodPost, path, withExtra("outputFormat="+f.(string)), src, "image/png", key)
					require.Equal(t, http.StatusOK, a.status, "%s", a.body)
					require.Equal(t, "image/"+f.(string), a.header.Get("Content-Type"))
				}
				// dryRun: a JSON quote, no credit headers.
				a := do(t, http.MethodPost, path, withExtra("dryRun=true"), src, "image/png", key)
				require.Equal(t, http.StatusOK, a.status)
				require.Equal(t, "application/json", a.header.Get("Content-Type"))
				require.Empty(t, a.header.Get("X-Credits-Charged"))
				var quote map[string]any
				jsonOf(a, &quote)
				require.ElementsMatch(t, keys(sp.deref(map[string]any{"$ref": "#/components/schemas/Quote"})["properties"].(map[string]any)), keys(quote))
				// An idempotent replay says so and charges nothing.
				idem := map[string]string{"x-api-key": s.key, "Idempotency-Key": "openapi-" + path}
				require.Equal(t, http.StatusOK, do(t, http.MethodPost, path, withExtra(""), src, "image/png", idem).status)
				a = do(t, http.MethodPost, path, withExtra(""), src, "image/png", idem)
				require.Equal(t, "true", a.header.Get("X-Idempotent-Replay"))
				require.Equal(t, "0", a.header.Get("X-Credits-Charged"))

				// The documented query parameters are the ones read; the
				// request's other fields are refused in the query string.
				documented := o.paramNames("query")
				for _, name := range documented {
					v := exampleValue(sp.deref(sp.paramSchema(o, name)))
					if name == "referenceImageUrl" {
						v = origin.URL + "/ref.png"
					}
					q := url.Values{name: {v}, "dryRun": {"true"}}
					if path == "/v1/colorize" && name != "referenceImageUrl" {
						q.Set("referenceImageUrl", origin.URL+"/ref.png")
					}
					a := s.send(http.MethodPost, path+"?"+q.Encode(), "image/png", src, key)
					require.Equal(t, http.StatusOK, a.status, "%s=%s: %s", name, v, a.body)
				}
				in := routeInput(t, http.MethodPost, path)
				for i := range in.Fields().Len() {
					name := in.Fields().Get(i).JSONName()
					if slices.Contains(documented, name) {
						continue
					}
					a := s.send(http.MethodPost, path+"?"+url.Values{name: {"x"}}.Encode(), "image/png", src, key)
					require.Equal(t, http.StatusBadRequest, a.status, name)
					require.Equal(t, name, a.problem.Param)
					require.Contains(t, a.problem.Detail, "unknown")
				}
			})
		}
	})

	t.Run("undocumented methods", func(t *testing.T) {
		for path, item := range sp.doc["paths"].(map[string]any) {
			target := strings.ReplaceAll(path, "{keyId}", "nosuchkey")
			for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
				if _, ok := item.(map[string]any)[strings.ToLower(m)]; ok {
					continue
				}
				if base, _, verb := strings.Cut(path, "}:"); verb {
					// /v1/keys/x:rotate is also /v1/keys/{keyId} with the
					// id "x:rotate", which answers as that route does.
					if _, ok := sp.doc["paths"].(map[string]any)[base+"}"].(map[string]any)[strings.ToLower(m)]; ok {
						continue
					}
				}
				a := s.send(m, target, "application/json", []byte(`{}`), nil)
				require.Equal(t, http.StatusMethodNotAllowed, a.status, "%s %s is not documented, so it must not be served", m, path)
				for allowed := range strings.SplitSeq(a.header.Get("Allow"), ", ") {
					_, ok := item.(map[string]any)[strings.ToLower(allowed)]
					if base, _, verb := strings.Cut(path, "}:"); verb && !ok {
						_, ok = sp.doc["paths"].(map[string]any)[base+"}"].(map[string]any)[strings.ToLower(allowed)]
					}
					require.True(t, ok, "%s %s: Allow %q names a method the document does not list", m, path, a.header.Get("Allow"))
				}
			}
		}
	})

	var missing []string
	for _, o := range sp.ops() {
		if !called[o.String()] {
			missing = append(missing, o.String())
		}
	}
	require.Empty(t, missing, "every documented operation is called and answers 2xx")
}

// paramSchema is the schema of o's parameter name.
func (sp *spec) paramSchema(o specOp, name string) map[string]any {
	for _, p := range o.params {
		if p["name"] == name {
			return sp.deref(p["schema"])
		}
	}
	panic("no parameter " + name)
}

// exampleValue is a valid query value for a schema.
func exampleValue(schema map[string]any) string {
	if enum, ok := schema["enum"].([]any); ok {
		return fmt.Sprint(enum[len(enum)-1])
	}
	switch schema["type"] {
	case "boolean":
		return "false"
	case "integer", "number":
		if m, ok := schema["minimum"]; ok {
			return fmt.Sprint(m)
		}
		return "1"
	}
	return "x"
}

// routeInput is the request message of the gRPC method behind a route.
func routeInput(t testing.TB, method, path string) protoreflect.MessageDescriptor {
	for _, r := range protoRoutes(t) {
		if r.method == method && r.path == path {
			return r.rpc.Input()
		}
	}
	t.Fatalf("no route %s %s", method, path)
	return nil
}

// tinyGrayJPEG is a small grayscale photo, what colorize takes.
func tinyGrayJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.SetGray(x, y, color.Gray{Y: uint8((x + y) * 255 / (w + h))})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90}))
	return buf.Bytes()
}

// TestOpenAPIErrorAnswersAsDocumented makes the error statuses the
// document lists and holds each answer to it: the status documented for
// the operation (405 and a routing 404 under default), the content type,
// the problem schema, and the headers (Retry-After on 429).
func TestOpenAPIErrorAnswersAsDocumented(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *config.Config) { c.MaxBodyBytes = 64 << 10 })
	sp := loadSpec(t, s)
	key := map[string]string{"x-api-key": s.key}
	png := tinyPNG(t, 16, 16)

	// An account with no credits left.
	broke := s.signUpAndIn(t, "broke@example.com")
	brokeKey := s.createKey(t, broke, "k", auth.ScopeImagesEnhance)
	acct, err := s.app.Store().AccountByEmail(context.Background(), "broke@example.com")
	require.NoError(t, err)
	c, err := s.app.ledger.Reserve(context.Background(), acct.ID, "k", credits.OpEnhance, "setup", credits.Plans["free"].MonthlyCredits)
	require.NoError(t, err)
	require.NoError(t, s.app.ledger.Commit(context.Background(), c))
	enhanceOnly := s.createKey(t, broke, "enhance only", auth.ScopeImagesEnhance)

	cases := []struct {
		name         string
		method, path string
		target       string // the path sent, when not path
		contentType  string
		body         []byte
		headers      map[string]string
		status       int
	}{
		{"bad option", "POST", "/v1/enhance", "/v1/enhance?outputFormat=gif", "image/png", png, key, 400},
		{"unknown query parameter", "GET", "/v1/usage", "/v1/usage?pageSise=3", "", nil, key, 400},
		{"no key", "POST", "/v1/upscale", "", "image/png", png, nil, 401},
		{"bad session", "GET", "/v1/keys", "", "", nil, bearer("ses_nope"), 401},
		{"out of credits", "POST", "/v1/enhance", "", "image/png", png, map[string]string{"x-api-key": brokeKey}, 402},
		{"missing scope", "POST", "/v1/colorize", "", "image/png", png, map[string]string{"x-api-key": enhanceOnly}, 403},
		{"session only", "GET", "/v1/account/export", "", "", nil, key, 403},
		{"no such key", "GET", "/v1/keys/{keyId}", "/v1/keys/nosuchkey", "", nil, bearer(broke), 404},
		{"no such route", "GET", "/v1/usage", "/v1/nothing-here", "", nil, key, 404},
		{"wrong method", "GET", "/v1/usage", "/v1/usage", "application/json", []byte(`{}`), key, 405},
		{"wrong method, front", "GET", "/healthz", "/healthz", "application/json", []byte(`{}`), nil, 405},
		{"email taken", "POST", "/v1/accounts", "", "application/json", []byte(`{"email": "broke@example.com", "password": "long enough password"}`), nil, 409},
		{"body too large", "POST", "/v1/enhance", "", "image/png", make([]byte, 80<<10), key, 413},
		{"plain body too large", "POST", "/v1/keys", "", "application/json", bytes.Repeat([]byte(" "), 70<<10), bearer(broke), 413},
		{"unsupported media type", "POST", "/v1/enhance", "", "image/tiff", []byte("II*\x00"), key, 415},
		{"JSON route, image body", "POST", "/v1/keys", "", "image/png", png, bearer(broke), 415},
		{"unreachable source", "POST", "/v1/enhance", "", "application/json", []byte(`{"imageUrl": "http://127.0.0.1:1/x.png"}`), key, 422},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			target := tt.target
			if target == "" {
				target = tt.path
			}
			method := tt.method
			if tt.status == 405 {
				method = http.MethodPut
			}
			a := s.send(method, target, tt.contentType, tt.body, tt.headers)
			require.Equal(t, tt.status, a.status, "%s", a.body)
			sp.checkAnswer(t, sp.op(t, tt.method, tt.path), a)
			readBack := a.problem
			require.Equal(t, tt.status, readBack.Status)
			if tt.status == 402 {
				require.Contains(t, readBack.Detail, "renew")
			}
		})
	}

	// 429 last: a minute's worth of usage reads, then one more.
	t.Run("rate limited", func(t *testing.T) {
		o := sp.op(t, http.MethodGet, "/v1/usage")
		var a answer
		for range 200 {
			a = s.send(http.MethodGet, "/v1/usage", "", nil, key)
			if a.status != http.StatusOK {
				break
			}
		}
		require.Equal(t, http.StatusTooManyRequests, a.status, "%s", a.body)
		sp.checkAnswer(t, o, a)
		require.NotEmpty(t, a.header.Get("Retry-After"))
	})
}

// TestOpenAPIClient generates a TypeScript client from the served
// document with openapi-typescript, type-checks and compiles a small
// program that uses it through openapi-fetch, and runs it: it enhances a
// photo from a raw upload, writes the bytes, checks the content type and
// the credit headers, and reads the detail of a 402. The document is also
// validated against the OpenAPI 3.1 schema. Needs node and npm
// (testdata/openapi-client, installed by make clients); CI has both.
func TestOpenAPIClient(t *testing.T) {
	t.Parallel()
	dir, err := filepath.Abs(filepath.Join("..", "..", "testdata", "openapi-client"))
	require.NoError(t, err)
	node, nodeErr := exec.LookPath("node")
	npx, npxErr := exec.LookPath("npx")
	_, modErr := os.Stat(filepath.Join(dir, "node_modules", "openapi-typescript"))
	if nodeErr != nil || npxErr != nil || modErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("node, npx and testdata/openapi-client/node_modules are required in CI (make clients installs them)")
		}
		t.Skip("node, npx or testdata/openapi-client/node_modules missing: run make clients (needs npm)")
	}
	s := startServer(t, nil)

	// The client's program and its build, in a folder of its own that
	// shares the installed packages.
	work := t.TempDir()
	require.NoError(t, os.Symlink(filepath.Join(dir, "node_modules"), filepath.Join(work, "node_modules")))
	for _, name := range []string{"package.json", "tsconfig.json", "enhance.ts", "validate.mjs"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(work, name), b, 0o644))
	}
	env := append(os.Environ(), "NODE_EXTRA_CA_CERTS="+s.app.CAPath(), "NO_UPDATE_NOTIFIER=1", "NPM_CONFIG_UPDATE_NOTIFIER=false")
	run := func(name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s %s:\n%s", name, strings.Join(args, " "), out)
		return string(out)
	}
	docURL := s.base + "/openapi.json"
	out := run(node, "validate.mjs", docURL)
	require.Contains(t, out, "valid OpenAPI 3.1", out)
	run(npx, "--no", "--", "openapi-typescript", docURL, "--output", "api.d.ts")
	run(npx, "--no", "--", "tsc", "--project", "tsconfig.json")

	// A photo to enhance, and an account with no credits left.
	photo := filepath.Join(work, "photo.jpg")
	require.NoError(t, os.WriteFile(photo, testImage(t, "kodim23.jpg"), 0o644))
	broke := s.signUpAndIn(t, "client-broke@example.com")
	brokeKey := s.createKey(t, broke, "k", auth.ScopeImagesEnhance)
	acct, err := s.app.Store().AccountByEmail(context.Background(), "client-broke@example.com")
	require.NoError(t, err)
	c, err := s.app.ledger.Reserve(context.Background(), acct.ID, "k", credits.OpEnhance, "setup", credits.Plans["free"].MonthlyCredits)
	require.NoError(t, err)
	require.NoError(t, s.app.ledger.Commit(context.Background(), c))

	env = append(env, "ENHANCE_BASE_URL="+s.base, "SMART_IMAGE_ENHANCEMENT_API_KEY="+s.key, "BROKE_API_KEY="+brokeKey,
		"PHOTO="+photo, "OUTPUT="+filepath.Join(work, "enhanced.webp"))
	out = run(node, filepath.Join("out", "enhance.js"))
	t.Log(out)
	var report struct {
		ContentType      string `json:"contentType"`
		Bytes            int    `json:"bytes"`
		Width            string `json:"width"`
		CreditsRemaining string `json:"creditsRemaining"`
		QuoteCredits     int    `json:"quoteCredits"`
		Status402        int    `json:"status402"`
		Code402          string `json:"code402"`
		Detail402        string `json:"detail402"`
	}
	require.NoError(t, json.Unmarshal([]byte(lastLine(out)), &report), out)
	require.Equal(t, "image/webp", report.ContentType)
	written, err := os.ReadFile(filepath.Join(work, "enhanced.webp"))
	require.NoError(t, err)
	require.Equal(t, report.Bytes, len(written))
	require.Equal(t, "image/webp", http.DetectContentType(written), "the client wrote the image's bytes")
	require.Equal(t, "768", report.Width)
	require.Equal(t, "49", report.CreditsRemaining)
	require.Equal(t, 1, report.QuoteCredits)
	require.Equal(t, http.StatusPaymentRequired, report.Status402)
	require.Equal(t, string(apierror.CreditsExhausted), report.Code402)
	require.Contains(t, report.Detail402, "renew")
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
