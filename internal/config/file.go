package config

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// fileSetting is one value the --config file gives, where it gives it.
type fileSetting struct {
	name  string
	node  *yaml.Node
	where string // file:line
}

// listFlag says whether a flag takes a YAML list as well as a comma-separated string.
func listFlag(name string) bool { return name == "fetch-ports" || name == "fetch-allow-cidrs" }

// flagName is what a key must look like to be repeated in an error: a
// key that is something else (a URL pasted one line too high) may hold a
// password.
var flagName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,40}$`)

// readFile reads the settings in a YAML file whose keys are fs's flag
// names: a mapping of one level, each value of its flag's type. It
// returns every problem it finds, never repeating a value.
func readFile(path string, fs *flag.FlagSet) (map[string]fileSetting, []error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{fmt.Errorf("config: --config: %w", err)}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// The YAML parser's messages name a line and a problem, never
		// the text.
		return nil, []error{fmt.Errorf("config: %s: %w", path, err)}
	}
	if len(doc.Content) == 0 {
		return nil, nil // empty: nothing set
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		return nil, []error{fmt.Errorf("config: %s:%d: must be a mapping of flag names to values, like http-addr: \":8443\"", path, top.Line)}
	}
	settings := map[string]fileSetting{}
	var errs []error
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		where := fmt.Sprintf("%s:%d", path, k.Line)
		key := k.Value
		switch {
		case k.Kind != yaml.ScalarNode || !flagName.MatchString(key):
			errs = append(errs, fmt.Errorf("config: %s: a key must be a flag name, like http-addr", where))
		case key == "config":
			errs = append(errs, fmt.Errorf("config: %s: config: a settings file cannot name another", where))
		case fs.Lookup(key) == nil:
			hint := ""
			if alt := strings.ReplaceAll(strings.ToLower(key), "_", "-"); fs.Lookup(alt) != nil {
				hint = fmt.Sprintf(" (did you mean %s?)", alt)
			}
			errs = append(errs, fmt.Errorf("config: %s: unknown key %q%s", where, key, hint))
		default:
			if first, ok := settings[key]; ok {
				errs = append(errs, fmt.Errorf("config: %s: %s given again (first at %s)", where, key, first.where))
				continue
			}
			settings[key] = fileSetting{name: key, node: v, where: where}
		}
	}
	return settings, errs
}

// text is the setting as its flag reads it, once its YAML type is known to
// suit the flag's (own is the flag's value): a string for a string or a
// duration (quoted or not), true or false for a switch, a whole number for
// a number; a list of ports or networks for the two lists.
func (s fileSetting) text(own flag.Value) (string, error) {
	name, n := s.name, s.node
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.SequenceNode && listFlag(name) {
		parts := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				return "", fmt.Errorf("%s: each item of the list must be a single value", name)
			}
			parts = append(parts, item.Value)
		}
		return strings.Join(parts, ","), nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("%s must be a single value, not a list or a mapping", name)
	}
	tag := n.ShortTag()
	if tag == "!!null" {
		return "", nil // "metrics-addr:" empties it, as --metrics-addr "" does
	}
	getter, ok := own.(flag.Getter)
	if !ok {
		return n.Value, nil // a flag of its own syntax checks its value
	}
	var want, what string
	switch getter.Get().(type) {
	case string:
		want, what = "!!str", "a string (in quotes if it looks like a number)"
	case time.Duration:
		want, what = "!!str", "a duration like 30s"
	case bool:
		want, what = "!!bool", "true or false"
	case int, int64:
		want, what = "!!int", "a whole number"
	}
	if want != "" && tag != want {
		return "", fmt.Errorf("%s must be %s", name, what)
	}
	return n.Value, nil
}
