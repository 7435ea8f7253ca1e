package v3_test

// Unit tier: our CRD against Calico's own native projectcalico.org/v3 CalicoNodeStatus CRD (Calico 3.32,
// read from the Calico fixtures, see internal/testenv/calico.go). The two have the same group, kind and
// name, so a cluster holds one or the other; whatever Calico's tools write must fit ours.

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// oursStricter lists where our schema restricts what Calico's accepts, each a deliberate choice that the
// README's "Running beside Calico" section states. A new restriction fails the test until it is listed
// here (and said there): objects Calico's tools write must not become invalid unnoticed.
var oursStricter = map[string]string{
	".spec required classes":               "an object must name what to report",
	".spec required node":                  "an object must name its node",
	".spec required updatePeriodSeconds":   "an object must say how often",
	".spec.classes maxItems":               "each class at most once",
	".spec.classes minItems":               "at least one class",
	".spec.classes x-kubernetes-list-type": "classes are a set (no duplicates)",
	".spec.node maxLength":                 "a node name is a DNS subdomain",
	".spec.node minLength":                 "a node name is a DNS subdomain",
	".spec.node pattern":                   "a node name is a DNS subdomain",
	".spec.updatePeriodSeconds maximum":    "at most a day (Calico: any uint32)",
	".spec.updatePeriodSeconds minimum":    "not negative (Calico's Go type is unsigned)",
}

// statusBound reports whether a restriction is one of the status's size bounds (maxLength on its strings,
// maxItems on its lists): they keep a status within etcd's request limit, and only a status writer (the
// agent, or calico-node's reporter, which lists far fewer peers and routes) is held to them.
func statusBound(restriction string) bool {
	return strings.HasPrefix(restriction, ".status.") &&
		(strings.HasSuffix(restriction, " maxLength") || strings.HasSuffix(restriction, " maxItems"))
}

func loadSchema(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind   string `json:"kind"`
				Plural string `json:"plural"`
			} `json:"names"`
			Scope    string `json:"scope"`
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(data, &crd); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	s := crd.Spec
	if s.Group != "projectcalico.org" || s.Names.Kind != "CalicoNodeStatus" || s.Names.Plural != "caliconodestatuses" || s.Scope != "Cluster" {
		t.Fatalf("%s is not the cluster-scoped projectcalico.org CalicoNodeStatus CRD: %+v", path, s)
	}
	for _, v := range s.Versions {
		if v.Name == "v3" {
			return v.Schema.OpenAPIV3Schema
		}
	}
	t.Fatalf("%s has no version v3", path)
	return nil
}

// TestCalicoNativeCRD_OursIsASuperset walks Calico's openAPIV3Schema and checks, for every property path,
// that ours has it with the same type and format, every enum value, the required fields, nullability and
// any other rule at least as strict. Rules the walk does not know fail it, so a new Calico release with
// new kinds of rules cannot pass unexamined.
func TestCalicoNativeCRD_OursIsASuperset(t *testing.T) {
	theirs := loadSchema(t, testenv.CalicoFixture(t, testenv.CalicoNativeCRD))
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ours := loadSchema(t, filepath.Join(root, "config", "crd", "bases", "projectcalico.org_caliconodestatuses.yaml"))

	w := &schemaWalk{}
	w.walk("", theirs, ours)
	for _, p := range w.problems {
		t.Error(p)
	}
	if w.paths < 50 {
		t.Fatalf("walked only %d property paths of Calico's schema; the fixture or the walk is broken", w.paths)
	}
	var unlisted []string
	for _, s := range w.stricter {
		if _, ok := oursStricter[s]; !ok && !statusBound(s) {
			unlisted = append(unlisted, s)
		}
	}
	if len(unlisted) > 0 {
		t.Errorf("our schema restricts Calico's in ways not listed in oursStricter (and the README's \"Running beside Calico\"):\n  %s",
			strings.Join(unlisted, "\n  "))
	}
	t.Logf("walked %d property paths of Calico %s's schema; ours is stricter at %d places (listed in oursStricter)", w.paths, testenv.CalicoVersion, len(w.stricter))
}

// TestSchemaWalkFindsEachKindOfDifference feeds the walk schemas that differ in one rule each: every
// difference the superset test relies on must be caught.
func TestSchemaWalkFindsEachKindOfDifference(t *testing.T) {
	base := func() map[string]any {
		return map[string]any{"type": "object", "required": []any{"a"}, "properties": map[string]any{
			"a": map[string]any{"type": "string", "enum": []any{"X", "Y"}},
			"b": map[string]any{"type": "integer", "format": "int32", "maximum": float64(10)},
			"c": map[string]any{"type": "string", "format": "date-time", "nullable": true},
			"d": map[string]any{"type": "array", "items": map[string]any{"type": "object", "properties": map[string]any{"e": map[string]any{"type": "string"}}}},
		}}
	}
	tests := []struct {
		name   string
		mutate func(ours map[string]any)
		want   string
	}{
		{"missing property", func(o map[string]any) { delete(o["properties"].(map[string]any), "b") }, ".b: missing"},
		{"other type", func(o map[string]any) { prop(o, "b")["type"] = "string" }, ".b: type"},
		{"other format", func(o map[string]any) { prop(o, "b")["format"] = "int64" }, ".b: format"},
		{"enum value missing", func(o map[string]any) { prop(o, "a")["enum"] = []any{"X"} }, `.a: enum lacks "Y"`},
		{"required dropped", func(o map[string]any) { o["required"] = []any{} }, "required a"},
		{"nullable dropped", func(o map[string]any) { delete(prop(o, "c"), "nullable") }, ".c: nullable"},
		{"looser maximum", func(o map[string]any) { prop(o, "b")["maximum"] = float64(11) }, ".b: maximum"},
		{"missing nested item property", func(o map[string]any) {
			delete(prop(o, "d")["items"].(map[string]any)["properties"].(map[string]any), "e")
		}, ".d[].e: missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ours := base()
			tt.mutate(ours)
			w := &schemaWalk{}
			w.walk("", base(), ours)
			if !slices.ContainsFunc(w.problems, func(p string) bool { return strings.Contains(p, tt.want) }) {
				t.Fatalf("problems %q lack %q", w.problems, tt.want)
			}
		})
	}
	w := &schemaWalk{}
	w.walk("", base(), base())
	if len(w.problems) > 0 || len(w.stricter) > 0 {
		t.Fatalf("identical schemas: problems %q, stricter %q", w.problems, w.stricter)
	}
	ours := base()
	prop(ours, "b")["minimum"] = float64(0)
	ours["required"] = []any{"a", "b"}
	w = &schemaWalk{}
	w.walk("", base(), ours)
	if len(w.problems) > 0 || !reflect.DeepEqual(w.stricter, []string{" required b", ".b minimum"}) {
		t.Fatalf("ours stricter: problems %q, stricter %q", w.problems, w.stricter)
	}
}

func prop(s map[string]any, name string) map[string]any {
	return s["properties"].(map[string]any)[name].(map[string]any)
}

// schemaWalk compares Calico's schema ("theirs") with ours.
type schemaWalk struct {
	paths    int
	problems []string // where ours does not keep a rule or field of theirs
	stricter []string // where ours restricts more than theirs
}

// documentation only: never a rule.
var descriptive = map[string]bool{"description": true, "title": true, "example": true, "externalDocs": true}

func (w *schemaWalk) fail(path, format string, args ...any) {
	w.problems = append(w.problems, fmt.Sprintf("%s: %s", pathOr(path), fmt.Sprintf(format, args...)))
}

func pathOr(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}

func (w *schemaWalk) walk(path string, theirs, ours map[string]any) {
	w.paths++
	keys := make([]string, 0, len(theirs))
	for k := range theirs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tv, ov := theirs[k], ours[k]
		switch k {
		case "type", "format", "x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-int-or-string",
			"x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource", "pattern":
			if !reflect.DeepEqual(tv, ov) {
				w.fail(path, "%s is %v in Calico's, %v in ours", k, tv, ov)
			}
		case "nullable":
			if tv == true && ov != true {
				w.fail(path, "nullable in Calico's (its clients send null), not in ours")
			}
		case "enum":
			have := map[string]bool{}
			for _, v := range asSlice(ov) {
				have[fmt.Sprint(v)] = true
			}
			if ov == nil {
				w.fail(path, "enum %v in Calico's, none in ours", tv)
			}
			for _, v := range asSlice(tv) {
				if ov != nil && !have[fmt.Sprint(v)] {
					w.fail(path, "enum lacks %q (Calico's allows it)", fmt.Sprint(v))
				}
			}
		case "required", "x-kubernetes-list-map-keys":
			have := map[string]bool{}
			for _, v := range asSlice(ov) {
				have[fmt.Sprint(v)] = true
			}
			for _, v := range asSlice(tv) {
				if !have[fmt.Sprint(v)] {
					w.fail(path, "%s %v in Calico's, not in ours", k, v)
				}
			}
		case "maximum", "maxLength", "maxItems", "maxProperties":
			if tn, ok := tv.(float64); ok {
				if on, ok := ov.(float64); !ok || on > tn {
					w.fail(path, "%s is %v in Calico's, %v in ours", k, tv, ov)
				}
			}
		case "minimum", "minLength", "minItems", "minProperties":
			if tn, ok := tv.(float64); ok {
				if on, ok := ov.(float64); !ok || on < tn {
					w.fail(path, "%s is %v in Calico's, %v in ours", k, tv, ov)
				}
			}
		case "properties":
			tp, _ := tv.(map[string]any)
			op, _ := ov.(map[string]any)
			names := make([]string, 0, len(tp))
			for n := range tp {
				names = append(names, n)
			}
			sort.Strings(names)
			for _, n := range names {
				sub, ok := op[n].(map[string]any)
				if !ok {
					w.fail(path+"."+n, "missing in ours")
					continue
				}
				w.walk(path+"."+n, tp[n].(map[string]any), sub)
			}
		case "items":
			ti, _ := tv.(map[string]any)
			oi, ok := ov.(map[string]any)
			if !ok {
				w.fail(path+"[]", "items missing in ours")
				continue
			}
			w.walk(path+"[]", ti, oi)
		default:
			if !descriptive[k] {
				// x-kubernetes-validations, allOf, oneOf, default, ...: compare them when Calico starts using them.
				w.fail(path, "Calico's schema has %q, which this test does not compare yet: extend it", k)
			}
		}
	}
	// Where ours adds rules Calico's does not have.
	for k, ov := range ours {
		if descriptive[k] || k == "properties" || k == "items" || k == "type" {
			continue
		}
		tv, inTheirs := theirs[k]
		switch k {
		case "required":
			have := map[string]bool{}
			for _, v := range asSlice(tv) {
				have[fmt.Sprint(v)] = true
			}
			for _, v := range asSlice(ov) {
				if !have[fmt.Sprint(v)] {
					w.stricter = append(w.stricter, fmt.Sprintf("%s required %v", path, v))
				}
			}
		case "nullable", "format":
		case "enum":
			if !inTheirs {
				w.stricter = append(w.stricter, fmt.Sprintf("%s enum", path))
			}
		default:
			if !inTheirs {
				w.stricter = append(w.stricter, fmt.Sprintf("%s %s", path, k))
			}
		}
	}
	sort.Strings(w.stricter)
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
