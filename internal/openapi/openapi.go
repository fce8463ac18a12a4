// Package openapi holds the OpenAPI 3.1 description of the REST API that
// the gateway serves at /openapi.json.
//
// It is written by hand, in openapi.yaml beside this file, rather than
// generated from the protos: the REST door answers image methods with raw
// image bytes and facts in headers, takes raw and multipart uploads with
// query options, and answers every failure with a problem JSON, none of
// which the protos' annotations can say. What the protos do say (routes,
// fields, their JSON names and types) is checked against the document by
// internal/app's tests, which also call every documented route of a
// running server, so the document cannot drift from what is served.
package openapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// source is the document as written: YAML, for its comments and its
// anchors, which let answers share header maps (OpenAPI has no $ref for a
// whole map of headers).
//
//go:embed openapi.yaml
var source []byte

// YAML returns the document as written.
func YAML() []byte { return bytes.Clone(source) }

// JSON returns the document as JSON, keys in the order written, anchors
// expanded. The embedded source is fixed at build time and this package's
// test parses it, so an error here is a broken build: JSON panics rather
// than hand every caller an error that cannot happen.
func JSON() []byte {
	b, err := toJSON(source)
	if err != nil {
		panic(err)
	}
	return b
}

// toJSON converts a YAML document to indented JSON.
func toJSON(src []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	var buf bytes.Buffer
	if err := writeNode(&buf, &doc); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// writeNode writes n as compact JSON. Mapping keys are always strings (a
// status code "200" stays a string), scalars keep the type YAML resolved.
func writeNode(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) != 1 {
			return fmt.Errorf("openapi: a document must hold one value")
		}
		return writeNode(buf, n.Content[0])
	case yaml.AliasNode:
		return writeNode(buf, n.Alias)
	case yaml.MappingNode:
		buf.WriteByte('{')
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				return fmt.Errorf("openapi: line %d: keys must be plain scalars", k.Line)
			}
			if seen[k.Value] {
				return fmt.Errorf("openapi: line %d: key %q repeated", k.Line, k.Value)
			}
			seen[k.Value] = true
			if i > 0 {
				buf.WriteByte(',')
			}
			key, _ := json.Marshal(k.Value)
			buf.Write(key)
			buf.WriteByte(':')
			if err := writeNode(buf, n.Content[i+1]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case yaml.SequenceNode:
		buf.WriteByte('[')
		for i, c := range n.Content {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeNode(buf, c); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case yaml.ScalarNode:
		return writeScalar(buf, n)
	default:
		return fmt.Errorf("openapi: line %d: unexpected YAML node", n.Line)
	}
	return nil
}

func writeScalar(buf *bytes.Buffer, n *yaml.Node) error {
	switch n.ShortTag() {
	case "!!str":
		b, _ := json.Marshal(n.Value)
		buf.Write(b)
	case "!!bool":
		var v bool
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("openapi: line %d: %w", n.Line, err)
		}
		buf.WriteString(strconv.FormatBool(v))
	case "!!int":
		var v int64
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("openapi: line %d: %w", n.Line, err)
		}
		buf.WriteString(strconv.FormatInt(v, 10))
	case "!!float":
		var v float64
		if err := n.Decode(&v); err != nil {
			return fmt.Errorf("openapi: line %d: %w", n.Line, err)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("openapi: line %d: %w", n.Line, err)
		}
		buf.Write(b)
	case "!!null":
		// The document has no nulls ("null" in a type list is a string):
		// one here is a plain scalar cut short, as a comma in
		// {description: a, b} makes "b" a key with no value.
		return fmt.Errorf("openapi: line %d: a null value (quote text with commas or colons)", n.Line)
	default:
		return fmt.Errorf("openapi: line %d: unsupported YAML tag %s", n.Line, n.ShortTag())
	}
	return nil
}
