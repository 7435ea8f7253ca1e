package printer_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/printer"
)

const (
	agentNS  = "calico-node-status"
	agentPod = "calico-node-status-agent-x7k2p"
	agentUID = "0b7e7c55-8f0a-4c1e-9a51-3f6f2f3e9d10"
)

// readyPod is the agent Pod a status names, on node with Ready=ready since since.
func readyPod(node string, ready corev1.ConditionStatus, since time.Time, msg string) *corev1.Pod {
	return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: agentPod, Namespace: agentNS, UID: agentUID},
		Spec: corev1.PodSpec{NodeName: node},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{
			{Type: corev1.PodReady, Status: ready, LastTransitionTime: metav1.NewTime(since), Reason: reasonFor(ready), Message: msg}}}}
}

func reasonFor(s corev1.ConditionStatus) string {
	if s == corev1.ConditionTrue {
		return ""
	}
	return "ContainersNotReady"
}

// podsOf answers for one Pod, or with err.
func podsOf(pod *corev1.Pod, err error) printer.Pods {
	return func(ns, name string) (*corev1.Pod, error) {
		if err != nil {
			return nil, err
		}
		if pod == nil || ns != pod.Namespace || name != pod.Name {
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "pods"}, name)
		}
		return pod.DeepCopy(), nil
	}
}

func TestAssessByTheAgentPod(t *testing.T) {
	obj := load(t, "fresh-contract.yaml") // period 10 s, node my-kadm-node-0
	obj.Status.Reporter = &v3.StatusReporter{Pod: agentPod, Namespace: agentNS, UID: agentUID}
	node := obj.Spec.Node
	last := obj.Status.LastUpdated.Time
	longAfter := last.Add(30 * 24 * time.Hour) // a month without a change: no write is expected
	notReadySince := last.Add(time.Hour)
	behind := *obj.DeepCopy()
	behind.Generation++
	snapshot := *obj.DeepCopy()
	zero := int32(0)
	snapshot.Spec.UpdatePeriodSeconds = &zero
	replaced := readyPod(node, corev1.ConditionTrue, last, "")
	replaced.UID = types.UID("another-uid")
	noCondition := readyPod(node, corev1.ConditionTrue, last, "")
	noCondition.Status.Conditions, noCondition.Status.Phase = nil, corev1.PodPending
	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, agentPod, errors.New(`User "alice" cannot get resource "pods"`))

	for _, tc := range []struct {
		name    string
		obj     v3.CalicoNodeStatus
		pods    printer.Pods
		now     time.Time
		verdict string
		want    string // in the stale reasons, or with unknown set, in the unknown notes
		unknown bool
	}{
		{"pod Ready: current however old lastUpdated is", obj, podsOf(readyPod(node, corev1.ConditionTrue, last, ""), nil), longAfter, "READY", "", false},
		{"pod gone", obj, podsOf(nil, nil), longAfter, "STALE, READY", "agent pod " + agentNS + "/" + agentPod + " is gone; nothing has written this status since", false},
		{"pod replaced (same name, another UID)", obj, podsOf(replaced, nil), longAfter, "STALE, READY", "is gone (a new Pod of that name has not written this status yet)", false},
		{"pod on another node", obj, podsOf(readyPod("elsewhere", corev1.ConditionTrue, last, ""), nil), longAfter, "STALE, READY", `runs on node "elsewhere", not on node ` + node, false},
		{"pod not ready", obj, podsOf(readyPod(node, corev1.ConditionFalse, notReadySince, "containers with unready status: [agent]"), nil), notReadySince.Add(5 * time.Minute), "STALE, READY",
			"is not ready since " + notReadySince.UTC().Format(time.RFC3339) + " (5m ago): ContainersNotReady: containers with unready status: [agent]", false},
		{"pod readiness unknown (its node is gone)", obj, podsOf(readyPod(node, corev1.ConditionUnknown, notReadySince, ""), nil), notReadySince, "STALE, READY", "is not ready since", false},
		{"pod never ready", obj, podsOf(noCondition, nil), last, "STALE, READY", "has not been ready yet (phase Pending)", false},
		{"pod unreadable: not stale, freshness unknown", obj, podsOf(nil, forbidden), longAfter, "READY", "freshness unknown: cannot read pod " + agentNS + "/" + agentPod + `: pods "` + agentPod + `" is forbidden`, true},
		{"no pod reader", obj, nil, longAfter, "READY", "freshness unknown: agent pod " + agentNS + "/" + agentPod + " was not read", true},
		{"generation behind, pod Ready: still stale", behind, podsOf(readyPod(node, corev1.ConditionTrue, last, ""), nil), last, "STALE, READY", "collected for generation", false},
		{"refresh disabled: a snapshot, the pod does not matter", snapshot, podsOf(nil, nil), longAfter, "READY", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := printer.Assess(&tc.obj, tc.now, tc.pods)
			if a.Verdict() != tc.verdict {
				t.Errorf("verdict %q, want %q (stale %q, unknown %q)", a.Verdict(), tc.verdict, a.Stale, a.Unknown)
			}
			if a.Pod != agentNS+"/"+agentPod {
				t.Errorf("Pod %q", a.Pod)
			}
			notes := a.Stale
			if tc.unknown {
				notes = a.Unknown
				if len(a.Stale) > 0 {
					t.Errorf("stale %q, want none", a.Stale)
				}
			} else if len(a.Unknown) > 0 {
				t.Errorf("unknown %q, want none", a.Unknown)
			}
			switch joined := strings.Join(notes, "; "); {
			case tc.want == "" && joined != "":
				t.Errorf("notes %q, want none", joined)
			case tc.want != "" && (len(notes) != 1 || !strings.Contains(joined, tc.want)):
				t.Errorf("notes %q, want one containing %q", notes, tc.want)
			}
		})
	}
}

// TestAssessByTheRecordedHeartbeat: without a Pod, the heartbeat the status records sets the age rule
// (an agent run with --heartbeat=1h is not stale after 30 minutes); without one either, the freshness
// is unknown rather than guessed.
func TestAssessByTheRecordedHeartbeat(t *testing.T) {
	obj := load(t, "fresh-contract.yaml")
	last := obj.Status.LastUpdated.Time
	obj.Status.Reporter = &v3.StatusReporter{HeartbeatSeconds: 3600}
	if a := printer.Assess(&obj, last.Add(30*time.Minute), nil); a.Verdict() != "READY" || len(a.Unknown) > 0 {
		t.Errorf("1h heartbeat, 30m old: %q (stale %q, unknown %q), want READY", a.Verdict(), a.Stale, a.Unknown)
	}
	if a := printer.Assess(&obj, last.Add(time.Hour+31*time.Second), nil); a.Verdict() != "STALE, READY" || !strings.Contains(strings.Join(a.Stale, ""), "60m heartbeat") {
		t.Errorf("1h heartbeat, 1h0m31s old: %q (stale %q), want STALE naming the heartbeat", a.Verdict(), a.Stale)
	}
	obj.Status.Reporter = &v3.StatusReporter{}
	if a := printer.Assess(&obj, last.Add(24*time.Hour), nil); a.Verdict() != "READY" || len(a.Unknown) != 1 || !strings.Contains(a.Unknown[0], "no Pod and writes no heartbeat") {
		t.Errorf("neither Pod nor heartbeat: %q (stale %q, unknown %q), want READY with a note", a.Verdict(), a.Stale, a.Unknown)
	}
}

// TestTextShowsTheAgentPodAndEscapesItsWords: the view names the agent Pod and shows why the status is
// stale or of unknown freshness, escaped like every other string (the Pod's condition message is the
// kubelet's, an error's text the API server's).
func TestTextShowsTheAgentPodAndEscapesItsWords(t *testing.T) {
	obj := load(t, "fresh-contract.yaml")
	obj.Status.Reporter = &v3.StatusReporter{Pod: agentPod, Namespace: agentNS, UID: agentUID}
	last := obj.Status.LastUpdated.Time
	var buf bytes.Buffer
	pod := readyPod(obj.Spec.Node, corev1.ConditionFalse, last, "probe failed\x1b[31m")
	if err := printer.Text(&buf, []v3.CalicoNodeStatus{obj}, last.Add(time.Minute), podsOf(pod, nil)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"Agent pod:     " + agentNS + "/" + agentPod, "Status:        STALE, READY", "stale: agent pod " + agentNS + "/" + agentPod + " is not ready since"} {
		if !strings.Contains(out, want) {
			t.Errorf("view lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "\x1b") {
		t.Errorf("view holds a raw escape character:\n%q", out)
	}
	buf.Reset()
	if err := printer.Text(&buf, []v3.CalicoNodeStatus{obj}, last, podsOf(nil, errors.New("connection refused"))); err != nil {
		t.Fatal(err)
	}
	if out := buf.String(); !strings.Contains(out, "               freshness unknown: cannot read pod "+agentNS+"/"+agentPod+": connection refused") || strings.Contains(out, "STALE") {
		t.Errorf("unreadable pod: view\n%s\nwant a freshness-unknown line and no STALE", out)
	}
}
