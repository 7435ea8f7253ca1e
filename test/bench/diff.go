package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// statusDiff lists the JSON paths whose values differ between two statuses, ignoring lastUpdated (it moves
// with every write by definition). List items are named by their protocol or destination when they have
// one, so "bgp.peersV4[Node_10_99_0_253].since" says which peer moved. It tells the writes that carried a
// change from those that carried only a new timestamp.
func statusDiff(a, b any) ([]string, error) {
	var x, y any
	for _, p := range []struct {
		in  any
		out *any
	}{{a, &x}, {b, &y}} {
		raw, err := json.Marshal(p.in)
		if err != nil {
			return nil, fmt.Errorf("encode status for diff: %w", err)
		}
		if err := json.Unmarshal(raw, p.out); err != nil {
			return nil, fmt.Errorf("decode status for diff: %w", err)
		}
	}
	var paths []string
	diffValue("", x, y, &paths)
	sort.Strings(paths)
	return paths, nil
}

func diffValue(path string, x, y any, out *[]string) {
	switch xv := x.(type) {
	case map[string]any:
		yv, ok := y.(map[string]any)
		if !ok {
			*out = append(*out, path)
			return
		}
		keys := map[string]bool{}
		for k := range xv {
			keys[k] = true
		}
		for k := range yv {
			keys[k] = true
		}
		for k := range keys {
			if path == "" && k == "lastUpdated" {
				continue
			}
			diffValue(join(path, k), xv[k], yv[k], out)
		}
	case []any:
		yv, ok := y.([]any)
		if !ok || len(xv) != len(yv) {
			*out = append(*out, path+"[]")
			return
		}
		for i := range xv {
			diffValue(fmt.Sprintf("%s[%s]", path, itemName(xv[i], i)), xv[i], yv[i], out)
		}
	default:
		if !reflect.DeepEqual(x, y) {
			*out = append(*out, path)
		}
	}
}

func itemName(v any, i int) string {
	if m, ok := v.(map[string]any); ok {
		for _, k := range []string{"protocol", "peerIP", "destination", "type"} {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
	}
	return fmt.Sprint(i)
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// summarize counts paths: "a.b ×3, c ×1" (most frequent first).
func summarize(counts map[string]int) string {
	if len(counts) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s x%d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}
