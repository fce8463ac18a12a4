package gateway

import (
	"regexp"
	"slices"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// checkQuery checks the query string of a call that takes fields from it
// (GET and DELETE calls, whose request is the path and the query) against
// the request message. The verdict on each value is grpc-gateway's own
// query parser's; a parameter it would silently ignore, a name that is no
// field, is refused here, so that a misspelt pageSize is not dropped.
func checkQuery(q map[string][]string, rt *route, what string) *fault {
	if len(q) == 0 {
		return nil
	}
	var parser runtime.DefaultQueryParser
	settable := func(fd protoreflect.FieldDescriptor) bool { return !rt.pathBound(fd) && !rt.isBody(fd) }
	var names []string
	for i := range rt.input.Fields().Len() {
		if fd := rt.input.Fields().Get(i); settable(fd) {
			names = append(names, fd.JSONName())
		}
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	byField := map[string]string{}
	for _, key := range keys {
		vals := q[key]
		top, fd, name := resolveQueryKey(rt.input, key)
		switch {
		case fd == nil && len(names) == 0:
			return badf(key, "unknown query parameter %q: %s takes no query parameters", key, what)
		case fd == nil:
			if s := suggest(key, names); s != "" {
				return badf(key, "unknown query parameter %q: did you mean %s?", key, s)
			}
			return badf(key, "unknown query parameter %q: %s takes %s", key, what, strings.Join(names, ", "))
		case rt.pathBound(top):
			return badf(name, "%s is given by the path, not the query string", name)
		case rt.isBody(top):
			return badf(name, "%s goes in the JSON body, not the query string", name)
		}
		if first, dup := byField[name]; dup {
			return badf(name, "query parameter %s is given twice, as %q and %q", name, first, key)
		}
		byField[name] = key
		if len(vals) > 1 && !fd.IsList() {
			return badf(name, "query parameter %s is given %d times", name, len(vals))
		}
		if err := parser.Parse(newMessage(rt.input), map[string][]string{key: vals}, rt.filter); err != nil {
			// Quotes are JSON's; a query string has none.
			return badf(name, "query parameter %s must be %s", name, strings.ReplaceAll(requirement(fd), `"`, ""))
		}
	}
	if err := parser.Parse(newMessage(rt.input), q, rt.filter); err != nil {
		return badf("", "the query string does not fit %s; its parameters are listed in /openapi.json", what)
	}
	return nil
}

// checkNoQuery refuses a query string on a call whose fields all come
// from its JSON body: grpc-gateway would ignore it, and an option the
// caller put there would silently not apply.
func checkNoQuery(q map[string][]string, rt *route, what string) *fault {
	if len(q) == 0 {
		return nil
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	key := keys[0]
	if top, _, name := resolveQueryKey(rt.input, key); top != nil && !rt.pathBound(top) {
		return badf(name, "%s goes in the JSON body, not the query string: %s reads no query parameters with a JSON body", name, what)
	}
	return badf(key, "unknown query parameter %q: %s reads no query parameters with a JSON body", key, what)
}

// isBody reports whether the body sets the top-level field fd.
func (rt *route) isBody(fd protoreflect.FieldDescriptor) bool {
	if rt.body == "*" {
		return true
	}
	head, _, _ := strings.Cut(rt.body, ".")
	return rt.body != "" && head == string(fd.Name())
}

// mapKeyParam is grpc-gateway's "field[key]" form for a map entry.
var mapKeyParam = regexp.MustCompile(`^(.*)\[(.*)\]$`)

// resolveQueryKey finds the field a query key names ("pageSize",
// "page_size", "a.b", "labels[k]"): the top-level field, the named field
// and its JSON path; nils when the key names no field.
func resolveQueryKey(md protoreflect.MessageDescriptor, key string) (top, fd protoreflect.FieldDescriptor, name string) {
	if m := mapKeyParam.FindStringSubmatch(key); m != nil {
		key = m[1]
	}
	var path []string
	for i, part := range strings.Split(key, ".") {
		if md == nil {
			return nil, nil, ""
		}
		f := md.Fields().ByTextName(part)
		if f == nil {
			f = md.Fields().ByJSONName(part)
		}
		if f == nil || i > 0 && fd.IsList() {
			return nil, nil, ""
		}
		if i == 0 {
			top = f
		}
		fd = f
		path = append(path, f.JSONName())
		md = f.Message()
	}
	return top, fd, strings.Join(path, ".")
}
