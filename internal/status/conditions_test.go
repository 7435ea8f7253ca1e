package status

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

func sectionsWith(issues ...v3.StatusIssue) Sections {
	return Sections{
		Agent:  &v3.CalicoNodeAgentStatus{},
		BGP:    &v3.CalicoNodeBGPStatus{Issues: issues},
		Routes: &v3.CalicoNodeBGPRouteStatus{},
	}
}

func TestReadyCondition(t *testing.T) {
	cases := []struct {
		name       string
		sections   Sections
		wantStatus metav1.ConditionStatus
		wantReason string
	}{
		{"complete", sectionsWith(), metav1.ConditionTrue, v3.ReasonCollected},
		{"daemon unreachable wins over partial parse", sectionsWith(
			v3.StatusIssue{Reason: v3.ReasonPartialParse, Message: "1 line skipped"},
			v3.StatusIssue{Family: v3.IPFamilyV6, Reason: v3.ReasonDaemonUnreachable, Message: "dial bird6.ctl: no such file"}),
			metav1.ConditionFalse, v3.ReasonDaemonUnreachable},
		{"partial parse", sectionsWith(v3.StatusIssue{Reason: v3.ReasonPartialParse}), metav1.ConditionFalse, v3.ReasonPartialParse},
		{"truncated routes only is still ready", Sections{Routes: &v3.CalicoNodeBGPRouteStatus{
			Issues: []v3.StatusIssue{{Family: v3.IPFamilyV4, Reason: v3.ReasonRoutesTruncated}}}}, metav1.ConditionTrue, v3.ReasonRoutesTruncated},
		{"truncated peers only is still ready", Sections{BGP: &v3.CalicoNodeBGPStatus{PeersTruncated: true,
			Issues: []v3.StatusIssue{{Family: v3.IPFamilyV6, Reason: v3.ReasonPeersTruncated}}}}, metav1.ConditionTrue, v3.ReasonPeersTruncated},
		{"unrecognised version only is still ready", sectionsWith(v3.StatusIssue{Reason: v3.ReasonVersionUnrecognized,
			Message: "BIRD version \"x\" not recognised: replies read as BIRD 2.x's"}), metav1.ConditionTrue, v3.ReasonVersionUnrecognized},
		{"partial parse wins over an unrecognised version", sectionsWith(
			v3.StatusIssue{Reason: v3.ReasonVersionUnrecognized}, v3.StatusIssue{Reason: v3.ReasonPartialParse}),
			metav1.ConditionFalse, v3.ReasonPartialParse},
	}
	for _, tc := range cases {
		c := readyCondition(tc.sections)
		if c.Status != tc.wantStatus || c.Reason != tc.wantReason {
			t.Errorf("%s: Ready = %s/%s, want %s/%s (%s)", tc.name, c.Status, c.Reason, tc.wantStatus, tc.wantReason, c.Message)
		}
	}
}

func TestDesiredStatusKeepsTransitionTimesAndSaysWhenRefreshIsDisabled(t *testing.T) {
	p := int32(0)
	obj := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "x", Generation: 3},
		Spec: v3.CalicoNodeStatusSpec{Node: "n", Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: &p}}
	first := Desired(obj, sectionsWith())
	if first.ObservedGeneration != 3 {
		t.Fatalf("observedGeneration = %d, want 3", first.ObservedGeneration)
	}
	var refreshing *metav1.Condition
	for i := range first.Conditions {
		if first.Conditions[i].Type == v3.ConditionRefreshing {
			refreshing = &first.Conditions[i]
		}
	}
	if refreshing == nil || refreshing.Status != metav1.ConditionFalse || refreshing.Reason != v3.ReasonRefreshDisabled {
		t.Fatalf("period 0: Refreshing condition = %+v, want False/RefreshDisabled", refreshing)
	}
	if ready := meta.FindStatusCondition(first.Conditions, v3.ConditionReady); ready == nil || ready.Status != metav1.ConditionTrue || ready.Reason != v3.ReasonRefreshDisabled {
		t.Fatalf("period 0, complete collection: Ready = %+v, want True/RefreshDisabled", ready)
	}
	// Collected again later with the same result: content equal, transition times kept.
	obj.Status = first
	obj.Status.Conditions[0].LastTransitionTime = metav1.NewTime(time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC))
	second := Desired(obj, sectionsWith())
	if !SameContent(obj.Status, second) {
		t.Fatal("same sections collected twice are not the same content")
	}
	if !second.Conditions[0].LastTransitionTime.Equal(&obj.Status.Conditions[0].LastTransitionTime) {
		t.Fatal("an unchanged condition got a new transition time")
	}
}

func TestReadyMessageIsBoundedValidUTF8(t *testing.T) {
	var issues []v3.StatusIssue
	for i := 0; i < 8; i++ {
		issues = append(issues, v3.StatusIssue{Reason: v3.ReasonPartialParse, Message: strings.Repeat("é", 400)})
	}
	c := readyCondition(sectionsWith(issues...))
	if len(c.Message) > maxConditionMessageBytes || !utf8.ValidString(c.Message) {
		t.Fatalf("Ready message: %d bytes, valid UTF-8 %v", len(c.Message), utf8.ValidString(c.Message))
	}
}
