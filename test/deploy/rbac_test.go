package deploy_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestRBAC_AgentIdentityHasExactlyLeastPrivilege acts as the agent's service account (on node-a, its own
// node) against the RBAC applied from config/ and checks every operation the agent needs and a set it
// must not have.
func TestRBAC_AgentIdentityHasExactlyLeastPrivilege(t *testing.T) {
	env := testenv.Shared(t)
	applyConfig(t)
	createCNS(t, env, "rbac-own", "node-a", 10)
	createCNS(t, env, "rbac-other", "node-b", 10)
	agent := agentOn("node-a").client(t, env)
	typed, err := kubernetes.NewForConfig(agentOn("node-a").config(env))
	if err != nil {
		t.Fatal(err)
	}
	fresh := func(ctx context.Context, name string) (*v3.CalicoNodeStatus, error) {
		var o v3.CalicoNodeStatus
		err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &o)
		return &o, err
	}

	tests := []struct {
		name    string
		allowed bool
		op      func(ctx context.Context) error
	}{
		{"get own CalicoNodeStatus", true, func(ctx context.Context) error {
			return agent.Get(ctx, client.ObjectKey{Name: "rbac-own"}, &v3.CalicoNodeStatus{})
		}},
		{"list CalicoNodeStatus with field selector spec.node", true, func(ctx context.Context) error {
			var l v3.CalicoNodeStatusList
			if err := agent.List(ctx, &l, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("spec.node", "node-a")}); err != nil {
				return err
			}
			if len(l.Items) != 1 || l.Items[0].Name != "rbac-own" {
				return fmt.Errorf("listed %d objects, want only rbac-own", len(l.Items))
			}
			return nil
		}},
		{"watch CalicoNodeStatus with field selector spec.node", true, func(ctx context.Context) error {
			w, err := agent.Watch(ctx, &v3.CalicoNodeStatusList{}, client.MatchingFieldsSelector{Selector: fields.OneTermEqualSelector("spec.node", "node-a")})
			if err != nil {
				return err
			}
			defer w.Stop()
			select { // the initial list of a watch without resourceVersion is sent as ADDED events
			case ev := <-w.ResultChan():
				if o, ok := ev.Object.(*v3.CalicoNodeStatus); !ok || o.Name != "rbac-own" {
					return fmt.Errorf("first watch event %s %T, want ADDED rbac-own", ev.Type, ev.Object)
				}
				return nil
			case <-ctx.Done():
				return fmt.Errorf("no watch event: %w", ctx.Err())
			}
		}},
		{"merge-patch own status", false, func(ctx context.Context) error {
			// The agent writes with a PUT only: patch is not granted (docs/benchmarks.md, "Cheaper writes").
			return agent.Status().Patch(ctx, &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "rbac-own"}},
				client.RawPatch("application/merge-patch+json", []byte(`{"status":{"lastUpdated":"`+time.Now().UTC().Format(time.RFC3339)+`"}}`)))
		}},
		{"update own status", true, func(ctx context.Context) error {
			o, err := fresh(ctx, "rbac-own")
			if err != nil {
				return err
			}
			o.Status.ObservedGeneration = o.Generation
			return agent.Status().Update(ctx, o)
		}},
		{"update spec", false, func(ctx context.Context) error {
			o, err := fresh(ctx, "rbac-own")
			if err != nil {
				return err
			}
			o.Spec.UpdatePeriodSeconds = period(1)
			return agent.Update(ctx, o)
		}},
		{"merge-patch spec", false, func(ctx context.Context) error {
			return agent.Patch(ctx, &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "rbac-own"}},
				client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"updatePeriodSeconds":1}}`)))
		}},
		{"create CalicoNodeStatus", false, func(ctx context.Context) error {
			o := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "rbac-new"}, Spec: v3.CalicoNodeStatusSpec{
				Node: "node-a", Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: period(10)}}
			return agent.Create(ctx, o)
		}},
		{"delete own CalicoNodeStatus", false, func(ctx context.Context) error {
			return agent.Delete(ctx, &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "rbac-own"}})
		}},
		{"delete collection of CalicoNodeStatus", false, func(ctx context.Context) error {
			return agent.DeleteAllOf(ctx, &v3.CalicoNodeStatus{})
		}},
		{"list secrets in its namespace", false, func(ctx context.Context) error {
			_, err := typed.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list secrets cluster-wide", false, func(ctx context.Context) error {
			_, err := typed.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"get configmap kube-root-ca.crt", false, func(ctx context.Context) error {
			_, err := typed.CoreV1().ConfigMaps(namespace).Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
			return err
		}},
		{"list configmaps", false, func(ctx context.Context) error {
			_, err := typed.CoreV1().ConfigMaps("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list pods", false, func(ctx context.Context) error {
			_, err := typed.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list nodes", false, func(ctx context.Context) error {
			_, err := typed.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list events", false, func(ctx context.Context) error {
			_, err := typed.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"create a core/v1 event", false, func(ctx context.Context) error {
			_, err := typed.CoreV1().Events("default").Create(ctx, &corev1.Event{
				ObjectMeta:     metav1.ObjectMeta{GenerateName: "rbac-own."},
				InvolvedObject: corev1.ObjectReference{APIVersion: "projectcalico.org/v3", Kind: "CalicoNodeStatus", Name: "rbac-own"},
				Reason:         v3.ReasonCollected, Message: "test", Type: corev1.EventTypeNormal, Count: 1,
				Source: corev1.EventSource{Component: "calico-node-status-agent", Host: "node-a"},
			}, metav1.CreateOptions{})
			return err
		}},
		{"create an events.k8s.io/v1 event", true, func(ctx context.Context) error {
			_, err := typed.EventsV1().Events("default").Create(ctx, newAgentEvent(), metav1.CreateOptions{})
			return err
		}},
		{"patch an events.k8s.io/v1 event", false, func(ctx context.Context) error {
			ev, err := env.Kube.EventsV1().Events("default").Create(ctx, newAgentEvent(), metav1.CreateOptions{})
			if err != nil {
				return fmt.Errorf("create the event as admin: %w", err)
			}
			_, err = typed.EventsV1().Events("default").Patch(ctx, ev.Name, "application/merge-patch+json", []byte(`{"series":{"count":2,"lastObservedTime":"`+time.Now().UTC().Format("2006-01-02T15:04:05.000000Z")+`"}}`), metav1.PatchOptions{})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op(ctxFor(t, 30*time.Second))
			switch {
			case tt.allowed && err != nil:
				t.Errorf("the agent must be allowed to %s: %v", tt.name, err)
			case !tt.allowed && err == nil:
				t.Errorf("the agent must not be allowed to %s, but it succeeded", tt.name)
			case !tt.allowed && !apierrors.IsForbidden(err):
				t.Errorf("%s: want 403 Forbidden from RBAC, got %v", tt.name, err)
			}
		})
	}
}

// TestRBAC_AgentRulesAreExactlyTheNeededOnes asks the API server which rules apply to the agent's
// identity (SelfSubjectRulesReview, as the agent), takes away those every service account of the
// namespace has anyway (the same review for another service account there) and compares the rest with
// what the agent needs, so a broader rule added by config/ (a wildcard, another verb, another resource)
// fails the test.
func TestRBAC_AgentRulesAreExactlyTheNeededOnes(t *testing.T) {
	env := testenv.Shared(t)
	applyConfig(t)
	other := agentOn("node-a")
	other.user = "system:serviceaccount:" + namespace + ":some-other-service-account"
	want := []string{
		"events.k8s.io/events:create",
		"projectcalico.org/caliconodestatuses/status:update",
		"projectcalico.org/caliconodestatuses:get", "projectcalico.org/caliconodestatuses:list",
		"projectcalico.org/caliconodestatuses:watch",
	}
	for _, ns := range []string{namespace, "default", "kube-system"} {
		t.Run(ns, func(t *testing.T) {
			ctx := ctxFor(t, 30*time.Second)
			agentRules := rulesOf(ctx, t, env, agentOn("node-a"), ns)
			baseline := map[string]bool{}
			for _, r := range rulesOf(ctx, t, env, other, ns) {
				baseline[r] = true
			}
			var got []string
			for _, r := range agentRules {
				if !baseline[r] {
					got = append(got, r)
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("agent's resource rules in namespace %s differ from least privilege (-want +got):\n%s", ns, diff)
			}
		})
	}
}

// rulesOf returns the resource rules that apply to id in namespace ns, as sorted "group/resource:verb"
// strings.
func rulesOf(ctx context.Context, t *testing.T, env *testenv.Env, id identity, ns string) []string {
	t.Helper()
	typed, err := kubernetes.NewForConfig(id.config(env))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := typed.AuthorizationV1().SelfSubjectRulesReviews().Create(ctx,
		&authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SelfSubjectRulesReview as %s in %s: %v", id.user, ns, err)
	}
	if rev.Status.Incomplete {
		t.Fatalf("rules review as %s incomplete: %s", id.user, rev.Status.EvaluationError)
	}
	var out []string
	for _, r := range rev.Status.ResourceRules {
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					s := g + "/" + res + ":" + v
					if len(r.ResourceNames) > 0 {
						s += " names=" + strings.Join(r.ResourceNames, ",")
					}
					out = append(out, s)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// newAgentEvent is an Event as the agent records it (KubeEvents).
func newAgentEvent() *eventsv1.Event {
	return &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{GenerateName: "rbac-own-"},
		EventTime:  metav1.NewMicroTime(time.Now()), ReportingController: "projectcalico.org/calico-node-status-agent",
		ReportingInstance: "calico-node-status-agent-node-a", Action: "Collect", Reason: v3.ReasonCollected, Type: corev1.EventTypeNormal,
		Regarding: corev1.ObjectReference{APIVersion: "projectcalico.org/v3", Kind: "CalicoNodeStatus", Name: "rbac-own"},
	}
}
