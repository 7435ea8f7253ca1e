package fleet

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	"sigs.k8s.io/yaml"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestFlowSchemaMatchesAgentServiceAccount checks config/apf against config/rbac without a cluster: the
// FlowSchema's subject is the agent's service account, it covers the agent's requests (CalicoNodeStatus
// list/watch, status update), and it points at the shipped priority level. TestQuickFleet checks the
// same on a real API server (APF's response headers).
func TestFlowSchemaMatchesAgentServiceAccount(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var sa corev1.ServiceAccount
	var fs flowcontrolv1.FlowSchema
	var pl flowcontrolv1.PriorityLevelConfiguration
	for path, into := range map[string]any{
		"config/rbac/service_account.yaml": &sa, "config/apf/flow_schema.yaml": &fs, "config/apf/priority_level.yaml": &pl,
	} {
		b, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.UnmarshalStrict(b, into); err != nil {
			t.Fatalf("parse %s: %v", path, err)
		}
	}
	if sa.Name != ServiceAccount || sa.Namespace != Namespace {
		t.Fatalf("fleet bench identity %s/%s differs from config/rbac's %s/%s", Namespace, ServiceAccount, sa.Namespace, sa.Name)
	}
	if fs.Spec.PriorityLevelConfiguration.Name != pl.Name {
		t.Errorf("FlowSchema points at priority level %q, config/apf ships %q", fs.Spec.PriorityLevelConfiguration.Name, pl.Name)
	}
	if p := fs.Spec.MatchingPrecedence; p <= 800 || p >= 9000 {
		t.Errorf("matchingPrecedence %d: want after the system schemas (<= 800) and before workload-low (9000)", p)
	}
	covers := func(verb, resource string) bool {
		for _, rule := range fs.Spec.Rules {
			hasSA := slices.ContainsFunc(rule.Subjects, func(s flowcontrolv1.Subject) bool {
				return s.Kind == flowcontrolv1.SubjectKindServiceAccount && s.ServiceAccount != nil &&
					s.ServiceAccount.Name == sa.Name && s.ServiceAccount.Namespace == sa.Namespace
			})
			if !hasSA {
				continue
			}
			for _, rr := range rule.ResourceRules {
				if slices.Contains(rr.Verbs, verb) && slices.Contains(rr.APIGroups, "projectcalico.org") &&
					slices.Contains(rr.Resources, resource) && rr.ClusterScope {
					return true
				}
			}
		}
		return false
	}
	for _, c := range []struct{ verb, resource string }{
		{"list", "caliconodestatuses"}, {"watch", "caliconodestatuses"}, {"get", "caliconodestatuses"},
		{"update", "caliconodestatuses/status"},
	} {
		if !covers(c.verb, c.resource) {
			t.Errorf("FlowSchema does not match the agent's service account for %s %s", c.verb, c.resource)
		}
	}
	if pl.Spec.Type != flowcontrolv1.PriorityLevelEnablementLimited || pl.Spec.Limited == nil ||
		pl.Spec.Limited.LimitResponse.Type != flowcontrolv1.LimitResponseTypeQueue {
		t.Errorf("priority level must be Limited and queue (not reject) excess requests: %+v", pl.Spec)
	}
}
