package gateway

import (
	"slices"
	"strings"
	"sync"

	"github.com/grpc-ecosystem/grpc-gateway/v2/utilities"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// route is one REST binding of a gRPC method, read from its
// google.api.http annotation: what the front handler needs to check a
// request against the method's request message before the mux decodes it.
type route struct {
	method string
	// segments of the path template: a literal, or "" for a variable.
	segments []string
	verb     string
	// body is the annotation's body: "" (none: the request is the path and
	// the query string), "*" or the name of one field.
	body  string
	input protoreflect.MessageDescriptor
	// pathFields are the field paths (proto names, dotted) the path binds.
	pathFields [][]string
	// filter is pathFields and the body field as grpc-gateway's query
	// parser takes them: the fields the query string may not set.
	filter *utilities.DoubleArray
}

// routes is every binding of the API's services. It is read once from the
// compiled-in descriptors, which never change: a derived constant, not
// state (a Gateway field would need gateway.go, which builds the mux).
var routes = sync.OnceValue(func() []*route {
	var rs []*route
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
					if rt := newRoute(b, m.Input()); rt != nil {
						rs = append(rs, rt)
					}
				}
			}
		}
		return true
	})
	return rs
})

// newRoute reads one binding; nil for a template this reader does not
// understand (such a call still works, unchecked, through the mux).
func newRoute(rule *annotations.HttpRule, input protoreflect.MessageDescriptor) *route {
	var method, tpl string
	switch p := rule.GetPattern().(type) {
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
	case *annotations.HttpRule_Custom:
		method, tpl = p.Custom.GetKind(), p.Custom.GetPath()
	default:
		return nil
	}
	rt := &route{method: method, body: rule.GetBody(), input: input}
	if !rt.parseTemplate(tpl) {
		return nil
	}
	seqs := append([][]string{}, rt.pathFields...)
	if rt.body != "" && rt.body != "*" {
		seqs = append(seqs, strings.Split(rt.body, "."))
	}
	rt.filter = utilities.NewDoubleArray(seqs)
	return rt
}

// parseTemplate reads "/v1/keys/{key_id}:rotate": literals, variables
// (a variable's own pattern, as in {name=keys/*}, adds its segments) and
// the verb. "**" is not understood.
func (rt *route) parseTemplate(tpl string) bool {
	if !strings.HasPrefix(tpl, "/") {
		return false
	}
	tpl = tpl[1:]
	if i := strings.LastIndex(tpl, ":"); i >= 0 && i > strings.LastIndexAny(tpl, "/}") {
		tpl, rt.verb = tpl[:i], tpl[i+1:]
	}
	for tpl != "" {
		if tpl[0] == '{' {
			end := strings.IndexByte(tpl, '}')
			if end < 0 {
				return false
			}
			field, pattern, ok := strings.Cut(tpl[1:end], "=")
			if !ok {
				pattern = "*"
			}
			rt.pathFields = append(rt.pathFields, strings.Split(field, "."))
			for _, s := range strings.Split(pattern, "/") {
				switch s {
				case "**":
					return false
				case "*":
					rt.segments = append(rt.segments, "")
				default:
					rt.segments = append(rt.segments, s)
				}
			}
			tpl = tpl[end+1:]
		} else {
			seg, _, _ := strings.Cut(tpl, "/")
			if seg == "" || seg == "*" || seg == "**" {
				return false
			}
			rt.segments = append(rt.segments, seg)
			tpl = tpl[len(seg):]
		}
		if tpl != "" {
			if tpl[0] != '/' {
				return false
			}
			tpl = tpl[1:]
		}
	}
	return true
}

// match reports whether an escaped request path fits the template.
func (rt *route) match(path string) bool {
	comps := strings.Split(strings.TrimPrefix(path, "/"), "/")
	if rt.verb != "" {
		last, ok := strings.CutSuffix(comps[len(comps)-1], ":"+rt.verb)
		if !ok {
			return false
		}
		comps[len(comps)-1] = last
	}
	if len(comps) != len(rt.segments) {
		return false
	}
	for i, seg := range rt.segments {
		if comps[i] == "" || seg != "" && comps[i] != seg {
			return false
		}
	}
	return true
}

// lookupRoute finds the binding a request goes to; nil when none does
// (the mux then answers 404 or 405).
func lookupRoute(method, escapedPath string) *route {
	for _, rt := range routes() {
		if rt.method == method && rt.match(escapedPath) {
			return rt
		}
	}
	return nil
}

// allowedMethods lists the methods some binding serves at escapedPath,
// for a 405's Allow header, in the order the bindings are declared.
func allowedMethods(escapedPath string) []string {
	var methods []string
	for _, rt := range routes() {
		if rt.match(escapedPath) && !slices.Contains(methods, rt.method) {
			methods = append(methods, rt.method)
		}
	}
	return methods
}

// pathBound reports whether the path sets the top-level field fd.
func (rt *route) pathBound(fd protoreflect.FieldDescriptor) bool {
	for _, p := range rt.pathFields {
		if p[0] == string(fd.Name()) {
			return true
		}
	}
	return false
}

// bodyMessage is the message a JSON body must fit, nil when the body is a
// single non-message field (checked by protojson alone).
func (rt *route) bodyMessage() protoreflect.MessageDescriptor {
	if rt.body == "*" {
		return rt.input
	}
	md := rt.input
	var fd protoreflect.FieldDescriptor
	for _, name := range strings.Split(rt.body, ".") {
		if md == nil {
			return nil
		}
		fd = md.Fields().ByName(protoreflect.Name(name))
		if fd == nil {
			return nil
		}
		md = fd.Message()
	}
	if fd == nil || fd.IsList() || fd.IsMap() {
		return nil
	}
	return md
}
