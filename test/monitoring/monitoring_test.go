// Package monitoring_test checks config/monitoring: the alerting rules with Prometheus's promtool (built
// from the module pinned in hack/tools/promtool), their unit tests, the PrometheusRule against the rules
// file, and that the rules and the Grafana dashboard name only metrics the agent exports.
package monitoring_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/yaml"

	"github.com/calico-node-status/calico-node-status/internal/agent"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

func repo(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

const (
	rulesFile = "config/monitoring/rules/calico-node-status.rules.yaml"
	testsFile = "config/monitoring/rules/calico-node-status.rules.test.yaml"
)

// promtool builds (once, into the cache) and returns promtool.
func promtool(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(repo(t), "hack/tools/promtool/build.sh"))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("build promtool (hack/tools/promtool/build.sh): %v", err)
	}
	return strings.TrimSpace(string(out))
}

func TestPromtool_RulesCheckAndUnitTests(t *testing.T) {
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", rulesFile}, {"test", "rules", testsFile}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = repo(t)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		t.Logf("promtool %s:\n%s", strings.Join(args, " "), out)
	}
}

type ruleGroups struct {
	Groups []struct {
		Name  string
		Rules []struct {
			Alert, Record, Expr string
		}
	}
}

func readYAML(t *testing.T, rel string, into any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
}

// Every alert has a promtool test in which it fires, and the PrometheusRule holds the rules file's groups.
func TestAlertsAreUnitTestedAndThePrometheusRuleMatches(t *testing.T) {
	var rules ruleGroups
	readYAML(t, rulesFile, &rules)
	var alerts []string
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert != "" {
				alerts = append(alerts, r.Alert)
			}
		}
	}
	var tests struct {
		Tests []struct {
			AlertRuleTest []struct {
				Alertname string
				ExpAlerts []any `json:"exp_alerts"`
			} `json:"alert_rule_test"`
		}
	}
	readYAML(t, testsFile, &tests)
	fires := map[string]bool{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			}
		}
	}
	for _, a := range alerts {
		if !fires[a] {
			t.Errorf("alert %s has no promtool test in which it fires (%s)", a, testsFile)
		}
	}
	if want := []string{"CalicoBGPSessionDown", "CalicoBIRDDown", "CalicoNodeStatusCollectionFailing", "CalicoBGPMeshIncomplete"}; !containsAll(alerts, want) {
		t.Errorf("alerts %v lack one of %v", alerts, want)
	}

	var fromRules, fromCR map[string]any
	readYAML(t, rulesFile, &fromRules)
	var cr struct {
		Kind string
		Spec map[string]any
	}
	readYAML(t, "config/monitoring/prometheusrule.yaml", &cr)
	fromCR = cr.Spec
	if cr.Kind != "PrometheusRule" {
		t.Fatalf("prometheusrule.yaml is a %q", cr.Kind)
	}
	if d := cmp.Diff(fromRules["groups"], fromCR["groups"]); d != "" {
		t.Errorf("prometheusrule.yaml's groups differ from %s (- rules file, + PrometheusRule):\n%s", rulesFile, d)
	}
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// recorder is a Registerer that keeps what is registered, to ask every collector for its descriptions.
type recorder struct{ cs []prometheus.Collector }

func (r *recorder) Register(c prometheus.Collector) error { r.cs = append(r.cs, c); return nil }
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	r.cs = append(r.cs, cs...)
}
func (r *recorder) Unregister(prometheus.Collector) bool { return false }

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// exported are the metric names the agent exports (histograms with their _bucket, _sum and _count).
func exported(t *testing.T) map[string]bool {
	t.Helper()
	rec := &recorder{}
	if _, err := agent.NewMetrics(rec); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.NewSessionMetrics(rec, "n"); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, c := range rec.cs {
		ch := make(chan *prometheus.Desc, 64)
		go func() { c.Describe(ch); close(ch) }()
		for d := range ch {
			m := fqName.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read the name of %s", d)
			}
			names[m[1]] = true
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[m[1]+suffix] = true // harmless for non-histograms: no expression names those
			}
		}
	}
	if !names["calico_node_status_bgp_session_up"] || !names["calico_node_status_status_writes_total"] {
		t.Fatalf("the agent's metric names were not found: %v", names)
	}
	return names
}

var ourMetric = regexp.MustCompile(`\bcalico_node_status_[a-zA-Z0-9_]+`)

// checkExpr reports what is wrong with an expression: it names none of our metrics, or one we do not export.
func checkExpr(expr string, names map[string]bool) []string {
	found := ourMetric.FindAllString(expr, -1)
	if len(found) == 0 {
		return []string{"names no calico_node_status_ metric"}
	}
	var bad []string
	for _, f := range found {
		if !names[f] {
			bad = append(bad, f+" is not a metric the agent exports")
		}
	}
	return bad
}

func TestRulesNameOnlyExportedMetrics(t *testing.T) {
	names := exported(t)
	var rules ruleGroups
	readYAML(t, rulesFile, &rules)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, problem := range checkExpr(r.Expr, names) {
				t.Errorf("rule %s: %s", r.Alert+r.Record, problem)
			}
		}
	}
}

// The dashboard is valid JSON, and every panel's every query (and the template variables) names metrics
// the agent exports.
func TestGrafanaDashboard(t *testing.T) {
	names := exported(t)
	b, err := os.ReadFile(filepath.Join(repo(t), "config/monitoring/grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	type target struct {
		Expr, RefID string
	}
	type panel struct {
		ID      int
		Type    string
		Title   string
		Targets []target
		Panels  []json.RawMessage // rows hold their panels
	}
	var dash struct {
		Title, UID    string
		SchemaVersion int
		Panels        []json.RawMessage
		Templating    struct {
			List []struct {
				Name, Type string
				Query      json.RawMessage
			}
		}
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&dash); err != nil {
		t.Fatalf("grafana-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || dash.SchemaVersion == 0 || len(dash.Panels) == 0 {
		t.Fatalf("dashboard without title, uid, schemaVersion or panels: %q %q %d %d", dash.Title, dash.UID, dash.SchemaVersion, len(dash.Panels))
	}
	var walk func(raw []json.RawMessage)
	ids := map[int]string{}
	queries := 0
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Fatalf("panel: %v", err)
			}
			if prev, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				queries++
				for _, problem := range checkExpr(tg.Expr, names) {
					t.Errorf("panel %q query %s: %s", p.Title, tg.RefID, problem)
				}
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		for _, problem := range checkExpr(string(v.Query), names) {
			t.Errorf("variable %s: %s", v.Name, problem)
		}
	}
	var titles []string
	for _, title := range ids {
		titles = append(titles, title)
	}
	sort.Strings(titles)
	t.Logf("%d panels, %d queries: %s", len(ids), queries, strings.Join(titles, "; "))
}
