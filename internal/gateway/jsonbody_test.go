package gateway

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	enhancev1 "github.com/smartimage/enhance/gen/smartimage/enhance/v1"
)

// internals are words that only a programmer, or protobuf-go's own error
// text, would put in a detail.
var internals = []string{"proto:", "protobuf", "invalid character", "google.", "github.com", ".go:", "smartimage.", "Request", "json:", "strconv"}

func requireUserWords(t *testing.T, detail string) {
	t.Helper()
	for _, w := range internals {
		require.NotContains(t, detail, w, "the detail is in the caller's words")
	}
}

func TestCheckJSONBody(t *testing.T) {
	t.Parallel()
	enhance := (*enhancev1.EnhanceRequest)(nil).ProtoReflect().Descriptor()
	upscale := (*enhancev1.UpscaleRequest)(nil).ProtoReflect().Descriptor()
	colorize := (*enhancev1.ColorizeRequest)(nil).ProtoReflect().Descriptor()
	rotate := (*enhancev1.RotateKeyRequest)(nil).ProtoReflect().Descriptor()
	create := (*enhancev1.CreateKeyRequest)(nil).ProtoReflect().Descriptor()
	keyID := func(fd protoreflect.FieldDescriptor) bool { return fd.Name() == "key_id" }
	png := base64.StdEncoding.EncodeToString([]byte("\x89PNG\r\n\x1a\n"))

	tests := []struct {
		name  string
		md    protoreflect.MessageDescriptor
		body  string
		param string
		// detail holds every one of these; none when the body fits.
		detail []string
	}{
		// What protojson takes, the check takes.
		{name: "documented request", md: enhance, body: `{"imageUrl": "https://example.com/photo.jpg", "enhancementType": "general", "outputFormat": "png"}`},
		{name: "proto field names", md: enhance, body: `{"image_url": "x", "enhancement_type": "general", "output_format": "png", "dry_run": true}`},
		{name: "empty body", md: enhance, body: ""},
		{name: "white space only", md: enhance, body: " \n\t"},
		{name: "empty object", md: enhance, body: "{}"},
		{name: "nulls are unset", md: enhance, body: `{"imageUrl": null, "quality": null, "strength": null}`},
		{name: "quoted whole number", md: upscale, body: `{"scaleFactor": "3"}`},
		{name: "exponent whole number", md: upscale, body: `{"scaleFactor": 3e0}`},
		{name: "URL-safe unpadded base64", md: enhance, body: `{"imageBase64": "-_8"}`},
		{name: "standard base64", md: enhance, body: `{"imageBase64": "` + png + `"}`},
		{name: "duration", md: rotate, body: `{"gracePeriod": "3600s"}`},
		{name: "fractional duration", md: rotate, body: `{"gracePeriod": "1.5s"}`},
		{name: "path field in the body", md: rotate, body: `{"keyId": "k", "gracePeriod": "0s"}`},
		{name: "timestamp with offset", md: create, body: `{"displayName": "ci", "scopes": ["images:enhance"], "expireTime": "2027-01-31T01:00:00+01:00"}`},
		{name: "nested hints", md: colorize, body: `{"hints": [{"points": [{"x": 1, "y": 2}], "color": "#ff0000", "widthPixels": 3}]}`},

		// Unknown fields, with the right spelling when it is a slip.
		{name: "field in the wrong case", md: enhance, body: `{"imageUrl": "x", "enhancementtype": "general"}`,
			param: "enhancementtype", detail: []string{`unknown field "enhancementtype"`, "did you mean enhancementType?"}},
		{name: "snake case of a JSON name", md: enhance, body: `{"image_base64": "AAAA"}`,
			param: "image_base64", detail: []string{"did you mean imageBase64?"}},
		{name: "swapped letters", md: enhance, body: `{"strenght": 1}`, param: "strenght", detail: []string{"did you mean strength?"}},
		{name: "a key off", md: upscale, body: `{"scaleFaktor": 2}`, param: "scaleFaktor", detail: []string{"did you mean scaleFactor?"}},
		{name: "part of a name", md: enhance, body: `{"format": "png"}`, param: "format", detail: []string{"did you mean outputFormat?"}},
		{name: "no close field", md: enhance, body: `{"imageUrl": "x", "enhancement_kind": "general"}`, param: "enhancement_kind",
			detail: []string{`unknown field "enhancement_kind"`, "this request takes imageUrl, imageBase64, enhancementType, outputFormat, quality, strength, dryRun"}},
		{name: "nested unknown field", md: colorize, body: `{"hints": [{"points": [], "colour": "#fff"}]}`,
			param: "hints[0].colour", detail: []string{"did you mean hints[0].color?"}},
		{name: "path fields are not suggested", md: rotate, body: `{"key": "k"}`, param: "key",
			detail: []string{"this request takes gracePeriod"}},
		{name: "duplicate field", md: enhance, body: `{"imageUrl": "a", "imageUrl": "b"}`, param: "imageUrl", detail: []string{"imageUrl is given twice"}},
		{name: "duplicate under both names", md: enhance, body: `{"imageUrl": "a", "image_url": "b"}`, param: "imageUrl",
			detail: []string{`imageUrl is given twice, as "imageUrl" and "image_url"`}},

		// Values of the wrong type.
		{name: "text for a whole number", md: upscale, body: `{"scaleFactor": "two"}`, param: "scaleFactor",
			detail: []string{"scaleFactor must be a whole number, like 2", "it is text"}},
		{name: "fraction for a whole number", md: upscale, body: `{"scaleFactor": 2.5}`, param: "scaleFactor", detail: []string{"it has a fraction"}},
		{name: "whole number out of range", md: enhance, body: `{"quality": 99999999999}`, param: "quality",
			detail: []string{"quality must be a whole number, like 90", "out of range"}},
		{name: "object for a whole number", md: enhance, body: `{"quality": {}}`, param: "quality", detail: []string{"it is an object"}},
		{name: "text for a number", md: enhance, body: `{"strength": "lots"}`, param: "strength", detail: []string{"strength must be a number, like 0.5"}},
		{name: "number for a string", md: enhance, body: `{"outputFormat": 5}`, param: "outputFormat",
			detail: []string{`outputFormat must be a string in double quotes, like "png"`, "it is a number"}},
		{name: "quoted flag", md: enhance, body: `{"dryRun": "true"}`, param: "dryRun", detail: []string{"dryRun must be true or false", "without quotes"}},
		{name: "number for a flag", md: enhance, body: `{"dryRun": 1}`, param: "dryRun", detail: []string{"dryRun must be true or false"}},
		{name: "not base64", md: enhance, body: `{"imageBase64": "not base64!!"}`, param: "imageBase64", detail: []string{"imageBase64 must be base64 text", "not base64"}},
		{name: "data URL for base64", md: enhance, body: `{"imageBase64": "data:image/png;base64,` + png + `"}`, param: "imageBase64",
			detail: []string{"only the base64 after the comma"}},
		{name: "number for base64", md: enhance, body: `{"imageBase64": 12}`, param: "imageBase64", detail: []string{"it is a number"}},
		{name: "duration in days", md: rotate, body: `{"gracePeriod": "8d"}`, param: "gracePeriod",
			detail: []string{`gracePeriod must be a duration in seconds, like "3600s"`}},
		{name: "duration as a number", md: rotate, body: `{"gracePeriod": 3600}`, param: "gracePeriod", detail: []string{"it is a number"}},
		{name: "time in words", md: create, body: `{"expireTime": "tomorrow"}`, param: "expireTime",
			detail: []string{`expireTime must be an RFC 3339 time, like "2027-01-31T00:00:00Z"`}},
		{name: "date without a time", md: create, body: `{"expireTime": "2027-01-31"}`, param: "expireTime", detail: []string{"a date alone"}},
		{name: "time without a zone", md: create, body: `{"expireTime": "2027-01-31T00:00:00"}`, param: "expireTime", detail: []string{"the zone is missing"}},
		{name: "string for a list", md: create, body: `{"scopes": "images:enhance"}`, param: "scopes",
			detail: []string{`scopes must be a list, like ["images:enhance"]`}},
		{name: "number in a list of strings", md: create, body: `{"scopes": ["images:enhance", 1]}`, param: "scopes[1]", detail: []string{"scopes[1] must be a string"}},
		{name: "string for a list of objects", md: colorize, body: `{"hints": "red"}`, param: "hints", detail: []string{"hints must be a list", "points, color, widthPixels"}},
		{name: "null in a list", md: colorize, body: `{"hints": [null]}`, param: "hints[0]", detail: []string{"hints[0] must be an object", "it is null"}},
		{name: "deep wrong type", md: colorize, body: `{"hints": [{"points": [{"x": 1, "y": "a"}]}]}`, param: "hints[0].points[0].y",
			detail: []string{"hints[0].points[0].y must be a whole number"}},
		{name: "object for a list", md: colorize, body: `{"hints": [{"points": {"x": 1}}]}`, param: "hints[0].points", detail: []string{"must be a list"}},

		// Bodies that are not one JSON object.
		{name: "cut short", md: enhance, body: `{"imageUrl":`, detail: []string{"could not be parsed", "not valid JSON", "ends before the JSON is complete, after byte 12"}},
		{name: "trailing comma", md: enhance, body: `{"imageUrl": "x",}`, detail: []string{"unexpected '}' at byte 18", "no comma before"}},
		{name: "unquoted name", md: enhance, body: `{imageUrl: "x"}`, detail: []string{"unexpected 'i' at byte 2", "double quotes"}},
		{name: "single quotes", md: enhance, body: `{'imageUrl': "x"}`, detail: []string{"a single quote", "double quotes"}},
		{name: "missing comma on another line", md: enhance, body: "{\n  \"imageUrl\": \"x\"\n  \"quality\": 2\n}",
			detail: []string{"line 3, column 3 (byte 23)", "comma missing"}},
		{name: "text after the object", md: enhance, body: `{"imageUrl": "x"} {}`, detail: []string{"more after the end of the JSON object", "byte 19"}},
		{name: "form data", md: enhance, body: `imageUrl=https://example.com/x.jpg`, detail: []string{"looks like form data"}},
		{name: "multipart without its type", md: enhance, body: "--b\r\nContent-Disposition: form-data; name=\"image\"\r\n\r\nx\r\n--b--\r\n",
			detail: []string{"looks like multipart/form-data"}},
		{name: "byte order mark", md: enhance, body: "\xEF\xBB\xBF{}", detail: []string{"byte order mark"}},
		{name: "not UTF-8", md: enhance, body: "{\"imageUrl\": \"\xff\"}", detail: []string{"not valid UTF-8", "byte 15"}},
		{name: "a list", md: enhance, body: `[{"imageUrl": "x"}]`, detail: []string{"must be a JSON object", `{"imageUrl": "https://example.com/photo.jpg"}`, "it is a list"}},
		{name: "a string", md: enhance, body: `"https://example.com/x.jpg"`, detail: []string{"must be a JSON object", "it is a string"}},
		{name: "null", md: rotate, body: `null`, detail: []string{`like {"gracePeriod": "3600s"}`, "it is null"}},
		{name: "a number", md: create, body: `12`, detail: []string{"it is a number"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var bound func(protoreflect.FieldDescriptor) bool
			if tt.md == rotate {
				bound = keyID
			}
			f := checkJSONBody([]byte(tt.body), tt.md, bound)
			if tt.detail == nil {
				require.Nil(t, f, "protojson takes it, so must the check")
				return
			}
			require.NotNil(t, f)
			require.Equal(t, tt.param, f.param)
			for _, d := range tt.detail {
				require.Contains(t, f.detail, d)
			}
			require.Zero(t, f.status, "a body that does not fit is a 400")
			require.Empty(t, f.code, "MALFORMED_REQUEST")
			requireUserWords(t, f.detail)
		})
	}
}

// TestCheckJSONBodyAgreesWithProtojson: whatever the body, the check
// refuses exactly what protojson refuses (the check's verdict is
// protojson's; this guards the explanations against claiming a problem
// in a body that has none).
func TestCheckJSONBodyAgreesWithProtojson(t *testing.T) {
	t.Parallel()
	colorize := (*enhancev1.ColorizeRequest)(nil).ProtoReflect().Descriptor()
	for _, body := range []string{
		`{"hints": [{"points": [{"x": "1", "y": 2.0}], "color": "#fff", "widthPixels": "3"}], "dryRun": false}`,
		`{"referenceImageBase64": "", "reference_image_url": "", "quality": -1}`,
		`{"hints": []}`, `{"hints": null}`, `{"hints": [{}]}`, `{"hints": [{"points": null}]}`,
	} {
		require.Nil(t, checkJSONBody([]byte(body), colorize, nil), body)
		require.NoError(t, unmarshalJSON.Unmarshal([]byte(body), newMessage(colorize)), body)
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	names := []string{"imageUrl", "imageBase64", "enhancementType", "outputFormat", "quality", "strength", "dryRun"}
	for in, want := range map[string]string{
		"enhancementtype": "enhancementType", "ENHANCEMENT_TYPE": "enhancementType", "image-url": "imageUrl",
		"strenght": "strength", "qualty": "quality", "outputFromat": "outputFormat", "dry_run": "dryRun",
		"format": "outputFormat", "type": "enhancementType", "url": "imageUrl",
		"colour": "", "x": "", "image": "", "": "", strings.Repeat("a", 100): "",
	} {
		require.Equal(t, want, suggest(in, names), in)
	}
	// Two equally close names: no guess.
	require.Empty(t, suggest("url", []string{"imageUrl", "referenceImageUrl"}))
}

// TestCheckJSONBodyBoundsItsWork: a body with a huge list and a problem
// after it gets the plain answer, without the walk looking at every value.
func TestCheckJSONBodyBoundsItsWork(t *testing.T) {
	t.Parallel()
	colorize := (*enhancev1.ColorizeRequest)(nil).ProtoReflect().Descriptor()
	points := strings.Repeat(`{"x": 1, "y": 2},`, 3*maxWalkValues)
	body := `{"hints": [{"points": [` + strings.TrimSuffix(points, ",") + `]}], "quality": "best"}`
	f := checkJSONBody([]byte(body), colorize, nil)
	require.NotNil(t, f)
	require.Contains(t, f.detail, "does not fit this method")
	requireUserWords(t, f.detail)

	// Within the bound, the same problem is found and named.
	body = `{"hints": [{"points": [{"x": 1, "y": 2}]}], "quality": "best"}`
	require.Equal(t, "quality", checkJSONBody([]byte(body), colorize, nil).param)
}

// TestCheckJSONBodyEnum: the API has no enum in a request today; should
// one come, a bad value is named with the values it may take.
func TestCheckJSONBodyEnum(t *testing.T) {
	t.Parallel()
	fdp := &descriptorpb.FileDescriptorProto{
		Name:    proto.String("enumtest.proto"),
		Package: proto.String("enumtest"),
		Syntax:  proto.String("proto3"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Fit"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("FIT_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("FIT_COVER"), Number: proto.Int32(1)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name: proto.String("ResizeRequest"),
			Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("fit"), JsonName: proto.String("fit"), Number: proto.Int32(1),
				Type: descriptorpb.FieldDescriptorProto_TYPE_ENUM.Enum(), TypeName: proto.String(".enumtest.Fit"),
				Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}},
		}},
	}
	fd, err := protodesc.NewFile(fdp, nil)
	require.NoError(t, err)
	md := fd.Messages().Get(0)
	require.Nil(t, checkJSONBody([]byte(`{"fit": "FIT_COVER"}`), md, nil))
	require.Nil(t, checkJSONBody([]byte(`{"fit": 1}`), md, nil))
	f := checkJSONBody([]byte(`{"fit": "cover"}`), md, nil)
	require.NotNil(t, f)
	require.Equal(t, "fit", f.param)
	require.Contains(t, f.detail, `fit must be one of "FIT_UNSPECIFIED", "FIT_COVER"`)
}

// TestTooManyElementsCountsStructureNotText: braces and commas inside
// strings (a URL, escaped quotes) are text; items of any kind count.
func TestTooManyElementsCountsStructureNotText(t *testing.T) {
	t.Parallel()
	text := `{"imageUrl": "` + strings.Repeat(`{\"a\",[1,2],`, maxBodyElements) + `"}`
	require.Nil(t, tooManyElements([]byte(text)))
	items := func(n int, item string) []byte {
		return []byte(`{"scopes": [` + strings.TrimSuffix(strings.Repeat(item+", ", n), ", ") + `]}`)
	}
	require.Nil(t, tooManyElements(items(maxBodyElements, `"usage:read"`)))
	require.NotNil(t, tooManyElements(items(maxBodyElements+1, `"usage:read"`)))
	require.NotNil(t, tooManyElements(items(maxBodyElements+1, `{}`)))
	require.Nil(t, tooManyElements(items(maxBodyElements/2, `{"points": [{}]}`)))
	require.NotNil(t, tooManyElements(items(maxBodyElements/2+1, `{"points": [{}]}`)))
}
