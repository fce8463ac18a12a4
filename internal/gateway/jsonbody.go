package gateway

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/smartimage/enhance/internal/apierror"
)

// fault is one way a request does not fit its method, said in the
// caller's words: what is wrong, which field, and what would be right.
type fault struct {
	status int             // 0 means 400
	code   apierror.Reason // "" means MALFORMED_REQUEST
	param  string
	detail string
}

func badf(param, format string, args ...any) *fault {
	return &fault{param: param, detail: fmt.Sprintf(format, args...)}
}

func (g *Gateway) refuse(w http.ResponseWriter, r *http.Request, f *fault) {
	status, code := f.status, f.code
	if status == 0 {
		status = http.StatusBadRequest
	}
	if code == "" {
		code = apierror.MalformedRequest
	}
	writeProblem(w, r, status, code, f.param, f.detail)
}

// unmarshalJSON is how the gateway's marshaler reads a body (gateway.go):
// a misspelt field is an error, not dropped.
var unmarshalJSON = protojson.UnmarshalOptions{DiscardUnknown: false}

// checkJSONBody reports how body does not fit md, nil if it does. The
// verdict is protojson's, with the gateway's options, so that nothing it
// would take is refused; only when protojson refuses does the body get
// read again to find the first problem and say it in the API's terms
// (protojson's own messages are written for programmers, and change from
// run to run on purpose). What protojson accepts, the gateway then
// decodes the same way. pathBound fields are left out of suggestions.
//
// An empty body is an empty request, as in the gateway.
func checkJSONBody(body []byte, md protoreflect.MessageDescriptor, pathBound func(protoreflect.FieldDescriptor) bool) *fault {
	_, f := parseJSONBody(body, md, pathBound)
	return f
}

// parseJSONBody is checkJSONBody that also returns the message body
// holds when it fits (nil for an empty body, which the mux reads as an
// empty request).
func parseJSONBody(body []byte, md protoreflect.MessageDescriptor, pathBound func(protoreflect.FieldDescriptor) bool) (proto.Message, *fault) {
	if len(bytes.Trim(body, jsonSpace)) == 0 {
		return nil, nil
	}
	if f := tooManyElements(body); f != nil {
		return nil, f
	}
	if m := newMessage(md); unmarshalJSON.Unmarshal(body, m) == nil {
		if f := longString(m.ProtoReflect(), ""); f != nil {
			return nil, f
		}
		return m, nil
	}
	return nil, checkMalformedJSON(body, md, pathBound)
}

// checkMalformedJSON says how a body that protojson refused does not fit.
func checkMalformedJSON(body []byte, md protoreflect.MessageDescriptor, pathBound func(protoreflect.FieldDescriptor) bool) *fault {
	if f := checkJSONSyntax(body); f != nil {
		return f
	}
	if k := jsonKind(body); k != '{' {
		return badf("", "the request body must be a JSON object, like %s; it is %s", objectExample(md, pathBound), kindName(k))
	}
	w := &walk{values: maxWalkValues}
	if f := w.object(body, md, "", pathBound); f != nil {
		return f
	}
	// protojson refused something the walk did not find: say so plainly.
	return badf("", "the request body does not fit this method; its fields are listed in /openapi.json")
}

const jsonSpace = " \t\r\n"

// maxStringBytes bounds every text field (a URL, a name, a password): far
// above any real one, and far below the image limit that a JSON body is
// sized for, so that a long text is refused here in words rather than by
// the gRPC client's message limit.
const maxStringBytes = 64 << 10

// longString finds a text field of m longer than maxStringBytes.
func longString(m protoreflect.Message, prefix string) *fault {
	var f *fault
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		name := join(prefix, fd.JSONName())
		switch {
		case fd.IsList() && fd.Kind() == protoreflect.StringKind:
			for i := range v.List().Len() {
				if len(v.List().Get(i).String()) > maxStringBytes {
					f = badf(fmt.Sprintf("%s[%d]", name, i), "%s[%d] is longer than %d bytes", name, i, maxStringBytes)
					return false
				}
			}
		case fd.IsList() && fd.Message() != nil:
			for i := range v.List().Len() {
				if f = longString(v.List().Get(i).Message(), fmt.Sprintf("%s[%d]", name, i)); f != nil {
					return false
				}
			}
		case fd.IsMap():
		case fd.Kind() == protoreflect.StringKind && len(v.String()) > maxStringBytes:
			f = badf(name, "%s is longer than %d bytes", name, maxStringBytes)
			return false
		case fd.Message() != nil:
			if f = longString(v.Message(), name); f != nil {
				return false
			}
		}
		return true
	})
	return f
}

// newMessage is an empty message of md's type: the generated type when it
// is linked in, so that the check decodes exactly as the gateway will.
func newMessage(md protoreflect.MessageDescriptor) proto.Message {
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		return mt.New().Interface()
	}
	return dynamicpb.NewMessage(md)
}

// checkJSONSyntax reports a body that is not one well-formed JSON value
// in UTF-8, with where it goes wrong.
func checkJSONSyntax(body []byte) *fault {
	if !utf8.Valid(body) {
		i := 0
		for i < len(body) {
			r, n := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		detail := fmt.Sprintf("the body could not be parsed: it is not valid JSON: byte %d is not valid UTF-8, and JSON must be UTF-8", i+1)
		if hint := bodyHint(body); hint != "" {
			detail += "; " + hint
		}
		return badf("", "%s", detail)
	}
	const prefix = "the body could not be parsed: it is not valid JSON"
	dec := json.NewDecoder(bytes.NewReader(body))
	var v json.RawMessage
	var se *json.SyntaxError
	switch err := dec.Decode(&v); {
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		end := len(bytes.TrimRight(body, jsonSpace)) - 1
		return badf("", "%s: it ends before the JSON is complete, after %s; is a closing }, ] or \" missing?", prefix, position(body, max(0, end)))
	case errors.As(err, &se):
		i := min(max(0, int(se.Offset)-1), len(body)-1)
		detail := fmt.Sprintf("%s: unexpected %s at %s", prefix, describeByte(body[i]), position(body, i))
		if hint := syntaxHint(body, i); hint != "" {
			detail += "; " + hint
		}
		return badf("", "%s", detail)
	case err != nil:
		return nil
	}
	rest := int(dec.InputOffset())
	for rest < len(body) && strings.IndexByte(jsonSpace, body[rest]) >= 0 {
		rest++
	}
	if rest < len(body) {
		return badf("", "%s: there is more after the end of the JSON %s: %s at %s", prefix, strings.TrimPrefix(strings.TrimPrefix(kindName(jsonKind(body)), "an "), "a "), describeByte(body[rest]), position(body, rest))
	}
	return nil
}

// position says where byte i is: "byte 12", or with the line and column
// as well when the body has several lines. All count from 1, as editors
// do.
func position(b []byte, i int) string {
	if !bytes.Contains(b, []byte("\n")) {
		return fmt.Sprintf("byte %d", i+1)
	}
	line := bytes.Count(b[:i], []byte("\n")) + 1
	col := i - bytes.LastIndexByte(b[:i], '\n')
	return fmt.Sprintf("line %d, column %d (byte %d)", line, col, i+1)
}

func describeByte(c byte) string {
	switch c {
	case '\'':
		return "a single quote (')"
	case ' ':
		return "a space"
	case '\n', '\r':
		return "a line break"
	case '\t':
		return "a tab"
	}
	if c > ' ' && c < 0x7f {
		return fmt.Sprintf("'%c'", c)
	}
	return fmt.Sprintf("byte 0x%02X", c)
}

// bodyHint guesses what a body that is not JSON at all is instead.
func bodyHint(body []byte) string {
	switch mt := sniffImage(body); {
	case bytes.HasPrefix(body, []byte("\xEF\xBB\xBF")):
		return "the body starts with a byte order mark; send UTF-8 without one"
	case mt != "":
		return fmt.Sprintf("the body is a %s image, not JSON: an image goes to /v1/enhance, /v1/upscale or /v1/colorize with Content-Type: %s", imageName(mt), mt)
	case bytes.HasPrefix(body, []byte("--")) && bytes.Contains(body, []byte("Content-Disposition")):
		return "the body looks like multipart/form-data: send it with its Content-Type header and boundary (curl -F does)"
	case len(body) > 0 && isNameByte(body[0]) && bytes.IndexByte(body, '=') > 0:
		return "the body looks like form data (name=value): send a JSON object, like {\"imageUrl\": \"https://example.com/photo.jpg\"}"
	}
	return ""
}

// syntaxHint guesses the usual cause of a syntax error at byte i.
func syntaxHint(body []byte, i int) string {
	if hint := bodyHint(body); hint != "" {
		return hint
	}
	before := bytes.TrimRight(body[:i], jsonSpace)
	switch {
	case body[i] == '\'':
		return "JSON strings and field names take double quotes"
	case (body[i] == '}' || body[i] == ']') && bytes.HasSuffix(before, []byte(",")):
		return "JSON allows no comma before a closing } or ]"
	case body[i] == '"' && len(before) > 0 && bytes.IndexByte([]byte("\"0123456789}]el"), before[len(before)-1]) >= 0:
		return "is a comma missing before it?"
	case isNameByte(body[i]) && (bytes.HasSuffix(before, []byte("{")) || bytes.HasSuffix(before, []byte(","))):
		return "field names take double quotes, like {\"imageUrl\": ...}"
	}
	return ""
}

func isNameByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// jsonKind is the first byte of a JSON value: '{', '[', '"', 't', 'f',
// 'n', or a digit or '-' for a number.
func jsonKind(v []byte) byte {
	v = bytes.TrimLeft(v, jsonSpace)
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func kindName(k byte) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "true or false"
	case 'n':
		return "null"
	case 0:
		return "missing"
	}
	return "a number"
}

// maxWalkValues bounds the values a walk looks at. Each costs far more
// than protojson's own pass, and a body can hold millions (hint points
// beside a large image); the problem is nearly always among the first.
const maxWalkValues = 10_000

// walk reads a body again, after protojson refused it, to find where.
type walk struct {
	values int // left to look at; past it the walk gives up
}

// spend counts one value looked at, reporting whether the walk may go on.
func (w *walk) spend() bool {
	w.values--
	return w.values >= 0
}

// object reads one JSON object against md and reports its first problem,
// nil if it has none that the walk can see. prefix is the object's own
// name ("hints[0]"), "" for the body.
func (w *walk) object(raw []byte, md protoreflect.MessageDescriptor, prefix string, pathBound func(protoreflect.FieldDescriptor) bool) *fault {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil {
		return nil
	}
	seen := map[protoreflect.FieldNumber]string{}
	oneofs := map[protoreflect.FullName]string{}
	fields := md.Fields()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		key, _ := tok.(string)
		var val json.RawMessage
		if err := dec.Decode(&val); err != nil {
			return nil
		}
		// As protojson: the JSON name, or else the proto name.
		fd := fields.ByJSONName(key)
		if fd == nil {
			fd = fields.ByTextName(key)
		}
		if fd == nil {
			return unknownField(prefix, key, md, pathBound)
		}
		name := join(prefix, fd.JSONName())
		if first, dup := seen[fd.Number()]; dup {
			if first == key {
				return badf(name, "%s is given twice", name)
			}
			return badf(name, "%s is given twice, as %q and %q", name, first, key)
		}
		seen[fd.Number()] = key
		if jsonKind(val) == 'n' && !acceptsNull(fd) {
			continue // null is "not set", as in protojson
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			if other, dup := oneofs[od.FullName()]; dup {
				return badf(name, "%s and %s cannot both be given", other, name)
			}
			oneofs[od.FullName()] = name
		}
		if !w.spend() {
			return nil
		}
		if f := w.value(md, fd, val, name); f != nil {
			return f
		}
	}
	return nil
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// acceptsNull: google.protobuf.Value and NullValue take null as a value.
func acceptsNull(fd protoreflect.FieldDescriptor) bool {
	if md := fd.Message(); md != nil {
		return md.FullName() == "google.protobuf.Value"
	}
	if ed := fd.Enum(); ed != nil {
		return ed.FullName() == "google.protobuf.NullValue"
	}
	return false
}

// isWellKnown reports the messages whose JSON form is not an object of
// their fields (Timestamp, Duration, wrappers ...): checked as one value.
func isWellKnown(md protoreflect.MessageDescriptor) bool {
	return strings.HasPrefix(string(md.FullName()), "google.protobuf.")
}

// value checks the value of field fd of a message of type parent.
func (w *walk) value(parent protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, val []byte, name string) *fault {
	switch {
	case fd.IsMap():
		if jsonKind(val) != '{' {
			return badf(name, "%s must be an object of names and values; it is %s", name, kindName(jsonKind(val)))
		}
		dec := json.NewDecoder(bytes.NewReader(val))
		dec.Token()
		for dec.More() && w.spend() {
			tok, err := dec.Token()
			if err != nil {
				return nil
			}
			key, _ := tok.(string)
			var v json.RawMessage
			if dec.Decode(&v) != nil {
				return nil
			}
			entry := name + "." + key
			vd := fd.MapValue()
			if m := vd.Message(); m != nil && !isWellKnown(m) && jsonKind(v) == '{' {
				if f := w.object(v, m, entry, nil); f != nil {
					return f
				}
			}
			keyJSON, _ := json.Marshal(key)
			if !leafOK(parent, fd, append(append(append([]byte{'{'}, keyJSON...), ':'), append(v, '}')...)) {
				return badf(entry, "%s must be %s; it is %s", entry, requirement(vd), kindName(jsonKind(v)))
			}
		}
		return nil
	case fd.IsList():
		if jsonKind(val) != '[' {
			return badf(name, "%s must be a list, like %s; it is %s", name, listExample(fd), kindName(jsonKind(val)))
		}
		dec := json.NewDecoder(bytes.NewReader(val))
		dec.Token()
		for i := 0; dec.More() && w.spend(); i++ {
			var v json.RawMessage
			if dec.Decode(&v) != nil {
				return nil
			}
			elem := fmt.Sprintf("%s[%d]", name, i)
			if m := fd.Message(); m != nil && !isWellKnown(m) {
				if jsonKind(v) != '{' {
					return badf(elem, "%s must be %s; it is %s", elem, requirement(fd), kindName(jsonKind(v)))
				}
				if f := w.object(v, m, elem, nil); f != nil {
					return f
				}
				continue
			}
			if !leafOK(parent, fd, append(append([]byte{'['}, v...), ']')) {
				return leafFault(fd, v, elem)
			}
		}
		return nil
	case fd.Message() != nil && !isWellKnown(fd.Message()):
		if jsonKind(val) != '{' {
			return badf(name, "%s must be %s; it is %s", name, requirement(fd), kindName(jsonKind(val)))
		}
		return w.object(val, fd.Message(), name, nil)
	}
	if !leafOK(parent, fd, val) {
		return leafFault(fd, val, name)
	}
	return nil
}

// leafOK asks protojson whether {"<field>": val} is a valid message of
// type parent: the verdict on one value, by the rules the gateway uses.
func leafOK(parent protoreflect.MessageDescriptor, fd protoreflect.FieldDescriptor, val []byte) bool {
	doc := make([]byte, 0, len(val)+len(fd.JSONName())+8)
	doc = append(doc, '{')
	doc = strconv.AppendQuote(doc, fd.JSONName())
	doc = append(doc, ':')
	doc = append(doc, val...)
	doc = append(doc, '}')
	return unmarshalJSON.Unmarshal(doc, newMessage(parent)) == nil
}

// leafFault says what a refused single value should have been. The value
// itself is never repeated: it may be a password or a signed URL, and
// refusals are logged.
func leafFault(fd protoreflect.FieldDescriptor, val []byte, name string) *fault {
	k := jsonKind(val)
	why := "it is " + kindName(k)
	switch {
	case fd.Kind() == protoreflect.BoolKind && k == '"':
		why = "write it without quotes"
	case fd.Kind() == protoreflect.StringKind && k == '"':
		why = `it is not valid Unicode text (a lone surrogate escape such as "\ud800"?)`
	case fd.Kind() == protoreflect.BytesKind && k == '"':
		why = "it is not base64 (the standard or URL-safe alphabet, padding optional)"
		if bytes.HasPrefix(val, []byte(`"data:`)) {
			why = `send only the base64 after the comma of a "data:...;base64," URL`
		}
	case isInt(fd) && (k == '"' || k == '-' || k >= '0' && k <= '9'):
		var s string
		if k == '"' {
			_ = json.Unmarshal(val, &s)
		} else {
			s = string(val)
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			if f != float64(int64(f)) && f > -1e18 && f < 1e18 {
				why = "it has a fraction"
			} else {
				why = "it is out of range (" + intRange(fd) + ")"
			}
		} else if k == '"' {
			why = "it is text"
		}
	case k == '"' && fd.Message() != nil:
		why = "it is not in that form"
		var text string
		_ = json.Unmarshal(val, &text)
		if fd.Message().FullName() == "google.protobuf.Timestamp" {
			if len(text) == len("2006-01-02") {
				why = "a date alone is not enough: add the time and the zone"
			} else if strings.Contains(text, "T") && !strings.ContainsAny(text[strings.Index(text, "T"):], "Zz+-") {
				why = "the zone is missing: add Z (UTC) or an offset like +01:00"
			}
		}
		if fd.Message().FullName() == "google.protobuf.Duration" {
			why = `only seconds are accepted, with an "s" (a day is "86400s")`
		}
	case k == '"' && fd.Enum() != nil:
		why = "it is none of these"
	case fd.Kind() == protoreflect.FloatKind || fd.Kind() == protoreflect.DoubleKind:
		if k == '"' {
			why = "it is text"
		} else if k == '-' || k >= '0' && k <= '9' {
			why = "it is out of range"
		}
	}
	return badf(name, "%s must be %s; %s", name, requirement(fd), why)
}

func isInt(fd protoreflect.FieldDescriptor) bool {
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return true
	}
	return false
}

func intRange(fd protoreflect.FieldDescriptor) string {
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return "-2147483648 to 2147483647"
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return "0 to 4294967295"
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "0 to 18446744073709551615"
	}
	return "-9223372036854775808 to 9223372036854775807"
}

// requirement says what a value of fd looks like, with an example: it
// completes "scaleFactor must be ...". For a list, it describes one
// element.
func requirement(fd protoreflect.FieldDescriptor) string {
	if md := fd.Message(); md != nil {
		return messageRequirement(md)
	}
	ex := example(fd)
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.StringKind:
		return "a string in double quotes, like " + ex
	case protoreflect.BytesKind:
		return "base64 text, like " + ex
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		names := make([]string, vals.Len())
		for i := range vals.Len() {
			names[i] = strconv.Quote(string(vals.Get(i).Name()))
		}
		return "one of " + strings.Join(names, ", ")
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number, like " + ex
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return "a whole number of 0 or more, like " + ex
	}
	return "a whole number, like " + ex
}

// messageRequirement describes a message value: the well-known types by
// their JSON form, others as an object with their fields.
func messageRequirement(md protoreflect.MessageDescriptor) string {
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		return `an RFC 3339 time, like "2027-01-31T00:00:00Z"`
	case "google.protobuf.Duration":
		return `a duration in seconds, like "3600s"`
	case "google.protobuf.FieldMask":
		return `field names separated by commas, like "displayName"`
	case "google.protobuf.Struct":
		return "a JSON object"
	case "google.protobuf.ListValue":
		return "a JSON list"
	case "google.protobuf.Value":
		return "a JSON value"
	case "google.protobuf.Empty":
		return "an empty object, {}"
	case "google.protobuf.Any":
		return `an object with an "@type"`
	}
	if isWellKnown(md) && md.Fields().Len() == 1 && md.Fields().Get(0).Name() == "value" {
		return requirement(md.Fields().Get(0)) // a wrapper: its value, unwrapped
	}
	return "an object with the fields " + fieldList(md, nil)
}

// fieldList names md's fields by their JSON names, leaving out pathBound.
func fieldList(md protoreflect.MessageDescriptor, pathBound func(protoreflect.FieldDescriptor) bool) string {
	names := jsonNames(md, pathBound)
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

func jsonNames(md protoreflect.MessageDescriptor, pathBound func(protoreflect.FieldDescriptor) bool) []string {
	var names []string
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		if pathBound == nil || !pathBound(fd) {
			names = append(names, fd.JSONName())
		}
	}
	return names
}

// example is a plausible value of fd in JSON, for messages that say what
// was expected. Fields of this API get their own; others one by kind.
func example(fd protoreflect.FieldDescriptor) string {
	if md := fd.Message(); md != nil {
		switch md.FullName() {
		case "google.protobuf.Timestamp":
			return `"2027-01-31T00:00:00Z"`
		case "google.protobuf.Duration":
			return `"3600s"`
		}
		return "{...}"
	}
	switch fd.JSONName() {
	case "imageUrl", "referenceImageUrl":
		return `"https://example.com/photo.jpg"`
	case "imageBase64", "referenceImageBase64":
		return `"iVBORw0KGgo..."`
	case "enhancementType":
		return `"general"`
	case "outputFormat":
		return `"png"`
	case "quality":
		return "90"
	case "strength":
		return "0.5"
	case "scaleFactor":
		return "2"
	case "color":
		return `"#ff8800"`
	case "widthPixels":
		return "4"
	case "x", "y":
		return "10"
	case "pageSize":
		return "50"
	case "displayName":
		return `"ci"`
	case "scopes":
		return `"images:enhance"`
	case "email":
		return `"you@example.com"`
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return `"text"`
	case protoreflect.BytesKind:
		return `"aGVsbG8="`
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "1.5"
	case protoreflect.BoolKind:
		return "true"
	}
	return "10"
}

// listExample is a one-element list for fd, a repeated field.
func listExample(fd protoreflect.FieldDescriptor) string {
	if md := fd.Message(); md != nil && !isWellKnown(md) {
		return "[{...}] (each an object with the fields " + fieldList(md, nil) + ")"
	}
	if fd.Message() != nil {
		return "[...]"
	}
	return "[" + example(fd) + "]"
}

// objectExample is a short example of a request body for md.
func objectExample(md protoreflect.MessageDescriptor, pathBound func(protoreflect.FieldDescriptor) bool) string {
	for i := range md.Fields().Len() {
		fd := md.Fields().Get(i)
		if pathBound != nil && pathBound(fd) {
			continue
		}
		if fd.IsList() || fd.IsMap() || fd.Message() != nil && !isWellKnown(fd.Message()) {
			return "{...}"
		}
		return fmt.Sprintf("{%q: %s}", fd.JSONName(), example(fd))
	}
	return "{}"
}

// unknownField says that key is no field of md, suggesting the field a
// slip of case or of a key or two would have given.
func unknownField(prefix, key string, md protoreflect.MessageDescriptor, pathBound func(protoreflect.FieldDescriptor) bool) *fault {
	param := join(prefix, key)
	names := jsonNames(md, pathBound)
	if s := suggest(key, names); s != "" {
		return badf(param, "unknown field %q: did you mean %s?", param, join(prefix, s))
	}
	where := "this request"
	if prefix != "" {
		where = prefix
	}
	if len(names) == 0 {
		return badf(param, "unknown field %q: %s takes no fields", param, where)
	}
	return badf(param, "unknown field %q: %s takes %s", param, where, strings.Join(names, ", "))
}

// maxBodyElements bounds the objects and list items in a JSON body: the
// gRPC server's own bound (server.MaxRequestElements), checked here before
// the gateway decodes the body, since a three-byte "{}," costs about a
// hundred once decoded.
const maxBodyElements = 100_000

// tooManyElements reports a body holding more than maxBodyElements nested
// objects and list items, counted as the server counts messages and list
// items: the body object itself is not one, and an object in a list is
// one. Malformed JSON is left to the checks that follow.
func tooManyElements(body []byte) *fault {
	var (
		n        int
		inString bool
		escaped  bool
		inList   []bool // per open container: is it a list?
		expect   bool   // in a list, after [ or ,: the next value is an item
	)
	for _, c := range body {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if strings.IndexByte(jsonSpace, c) >= 0 {
			continue
		}
		item := expect && c != ']'
		expect = false
		switch c {
		case '{':
			if len(inList) > 0 {
				item = true
			}
			inList = append(inList, false)
		case '[':
			inList = append(inList, true)
			expect = true
		case '}', ']':
			if len(inList) > 0 {
				inList = inList[:len(inList)-1]
			}
		case ',':
			expect = len(inList) > 0 && inList[len(inList)-1]
		case '"':
			inString = true
		}
		if item {
			if n++; n > maxBodyElements {
				return badf("", "the request body holds more than %d objects and list items", maxBodyElements)
			}
		}
	}
	return nil
}
