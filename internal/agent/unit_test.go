package agent

import (
	"context"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/collect"
)

func TestGridNextIsOnTheNodesGridAndAtLeastHalfAPeriodAway(t *testing.T) {
	base := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	for _, node := range []string{"node-a", "node-b", "worker-17"} {
		g := newGrid(node)
		for _, period := range []time.Duration{time.Second, 10 * time.Second, 90 * time.Second} {
			offset := time.Duration(g.fraction * float64(period))
			for i := 0; i < 50; i++ {
				last := base.Add(time.Duration(i) * 137 * time.Millisecond * time.Duration(period/time.Second))
				next := g.next(last, period)
				if d := next.Sub(last); d < period/2 || d > period+period/2 {
					t.Fatalf("%s period %v: next(%v) = %v, %v away; want within [P/2, 3P/2]", node, period, last, next, d)
				}
				if onGrid := next.Add(-offset); !onGrid.Truncate(period).Equal(onGrid) {
					t.Fatalf("%s period %v: next %v is off the node's grid (offset %v)", node, period, next, offset)
				}
			}
		}
	}
	if newGrid("node-a").fraction == newGrid("node-b").fraction {
		t.Fatal("two nodes share a grid offset; nodes must spread over the period")
	}
}

func TestHeartbeatDue(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		name        string
		lastUpdated time.Time
		period      time.Duration
		want        bool
	}{
		{"never written", time.Time{}, 10 * time.Second, true},
		{"written 10s ago, period 10s", now.Add(-10 * time.Second), 10 * time.Second, false},
		{"written 4m59s ago", now.Add(-299 * time.Second), 10 * time.Second, false},
		{"written 5m ago", now.Add(-5 * time.Minute), 10 * time.Second, true},
		{"long period: 5m ago, period 1h", now.Add(-5 * time.Minute), time.Hour, false},
		{"long period: 1h ago, period 1h", now.Add(-time.Hour), time.Hour, true},
	}
	for _, tc := range cases {
		if got := heartbeatDue(now, tc.lastUpdated, tc.period, DefaultHeartbeat); got != tc.want {
			t.Errorf("%s: heartbeatDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNeedFor(t *testing.T) {
	cases := []struct {
		classes []v3.NodeStatusClassType
		want    bird.Need
	}{
		{[]v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent}, bird.Need{Status: true}},
		{[]v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, bird.Need{Protocols: true}},
		{[]v3.NodeStatusClassType{v3.NodeStatusClassTypeRoutes}, bird.Need{Protocols: true, Routes: true}},
		{[]v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes}, bird.Need{Status: true, Protocols: true, Routes: true}},
	}
	for _, tc := range cases {
		if got := needFor(tc.classes); got != tc.want {
			t.Errorf("needFor(%v) = %+v, want %+v", tc.classes, got, tc.want)
		}
	}
}

type countingSource struct{ calls int }

func (c *countingSource) Collect(_ context.Context, need bird.Need) bird.Snapshot {
	c.calls++
	return bird.Snapshot{V4: bird.DaemonSnapshot{Family: bird.IPv4, Status: &bird.Status{Up: need.Status}}}
}

func TestSharedSnapshotsReuseWithinMaxAgeAndCoverage(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	src := &countingSource{}
	s := &sharedSnapshots{src: src, now: func() time.Time { return now }}
	all := bird.Need{Status: true, Protocols: true, Routes: true}
	ctx := context.Background()
	if _, _, fresh := s.get(ctx, all, time.Second); !fresh {
		t.Fatal("first get did not collect")
	}
	if _, _, fresh := s.get(ctx, bird.Need{Status: true}, time.Second); fresh || src.calls != 1 {
		t.Fatalf("a covered need within maxAge collected again (calls %d)", src.calls)
	}
	now = now.Add(2 * time.Second)
	if _, _, fresh := s.get(ctx, bird.Need{Status: true}, time.Second); !fresh || src.calls != 2 {
		t.Fatalf("a snapshot older than maxAge was reused (calls %d)", src.calls)
	}
	if _, _, fresh := s.get(ctx, all, time.Minute); !fresh || src.calls != 3 {
		t.Fatalf("a snapshot that does not cover the need was reused (calls %d)", src.calls)
	}
}

func sectionsWith(issues ...v3.StatusIssue) collect.Sections {
	return collect.Sections{
		Agent:  &v3.CalicoNodeAgentStatus{},
		BGP:    &v3.CalicoNodeBGPStatus{Issues: issues},
		Routes: &v3.CalicoNodeBGPRouteStatus{},
	}
}

func TestReadyCondition(t *testing.T) {
	cases := []struct {
		name       string
		sections   collect.Sections
		wantStatus metav1.ConditionStatus
		wantReason string
	}{
		{"complete", sectionsWith(), metav1.ConditionTrue, v3.ReasonCollected},
		{"daemon unreachable wins over partial parse", sectionsWith(
			v3.StatusIssue{Reason: v3.ReasonPartialParse, Message: "1 line skipped"},
			v3.StatusIssue{Family: v3.IPFamilyV6, Reason: v3.ReasonDaemonUnreachable, Message: "dial bird6.ctl: no such file"}),
			metav1.ConditionFalse, v3.ReasonDaemonUnreachable},
		{"partial parse", sectionsWith(v3.StatusIssue{Reason: v3.ReasonPartialParse}), metav1.ConditionFalse, v3.ReasonPartialParse},
		{"truncated routes only is still ready", collect.Sections{Routes: &v3.CalicoNodeBGPRouteStatus{
			Issues: []v3.StatusIssue{{Family: v3.IPFamilyV4, Reason: v3.ReasonRoutesTruncated}}}}, metav1.ConditionTrue, v3.ReasonRoutesTruncated},
		{"truncated peers only is still ready", collect.Sections{BGP: &v3.CalicoNodeBGPStatus{PeersTruncated: true,
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
	first := desiredStatus(obj, sectionsWith())
	if first.ObservedGeneration != 3 {
		t.Fatalf("observedGeneration = %d, want 3", first.ObservedGeneration)
	}
	var refreshing *metav1.Condition
	for i := range first.Conditions {
		if first.Conditions[i].Type == ConditionRefreshing {
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
	second := desiredStatus(obj, sectionsWith())
	if !sameContent(obj.Status, second) {
		t.Fatal("same sections collected twice are not the same content")
	}
	if !second.Conditions[0].LastTransitionTime.Equal(&obj.Status.Conditions[0].LastTransitionTime) {
		t.Fatal("an unchanged condition got a new transition time")
	}
}

func TestSameContentTreatsNilAndEmptyAlikeAndIgnoresLastUpdated(t *testing.T) {
	a := v3.CalicoNodeStatusStatus{LastUpdated: metav1.Now(), BGP: &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{}}, Routes: &v3.CalicoNodeBGPRouteStatus{RoutesV4: []v3.CalicoNodeRoute{}}}
	b := v3.CalicoNodeStatusStatus{BGP: &v3.CalicoNodeBGPStatus{}, Routes: &v3.CalicoNodeBGPRouteStatus{}}
	if !sameContent(a, b) {
		t.Fatal("nil and empty lists, or lastUpdated alone, made a difference")
	}
	b.BGP.NumberEstablishedV4 = 1
	if sameContent(a, b) {
		t.Fatal("a changed count was not a difference")
	}
	c := *a.DeepCopy()
	c.Routes = nil
	if sameContent(a, c) {
		t.Fatal("a removed section was not a difference")
	}
}

func TestPeerTransitions(t *testing.T) {
	peer := func(ip string, st v3.BGPSessionState) v3.CalicoNodePeer {
		return v3.CalicoNodePeer{PeerIP: ip, State: st, Protocol: "Mesh_" + ip}
	}
	before := &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{
		peer("10.0.0.1", v3.BGPSessionStateEstablished), peer("10.0.0.2", v3.BGPSessionStateActive), peer("10.0.0.3", v3.BGPSessionStateEstablished)}}
	after := &v3.CalicoNodeBGPStatus{PeersV4: []v3.CalicoNodePeer{
		peer("10.0.0.1", v3.BGPSessionStateIdle), peer("10.0.0.2", v3.BGPSessionStateEstablished)}}
	got := map[string]bool{}
	for _, tr := range peerTransitions(before, after) {
		got[tr.peerIP] = tr.established
	}
	want := map[string]bool{"10.0.0.1": false, "10.0.0.2": true, "10.0.0.3": false}
	if len(got) != len(want) {
		t.Fatalf("transitions %v, want %v", got, want)
	}
	for ip, up := range want {
		if g, ok := got[ip]; !ok || g != up {
			t.Errorf("peer %s: transition to established=%v missing or wrong (got %v)", ip, up, got)
		}
	}
	// The daemon of a family cannot be read: its peers are missing from after, which is not news about them.
	unreadable := &v3.CalicoNodeBGPStatus{Issues: []v3.StatusIssue{{Family: v3.IPFamilyV4, Reason: v3.ReasonDaemonUnreachable}}}
	if tr := peerTransitions(before, unreadable); len(tr) != 0 {
		t.Errorf("an unreachable daemon gave peer transitions %v", tr)
	}
	if tr := peerTransitions(after, after); len(tr) != 0 {
		t.Errorf("no change gave transitions %v", tr)
	}
	if tr := peerTransitions(nil, after); len(tr) != 0 {
		t.Errorf("first observation gave transitions %v; peers already up are not news", tr)
	}
}

func TestEventLimiter(t *testing.T) {
	l := &eventLimiter{interval: time.Minute}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if !l.allow("a", now) || l.allow("a", now.Add(30*time.Second)) || !l.allow("b", now) || !l.allow("a", now.Add(time.Minute)) {
		t.Fatal("limiter does not allow one event per key per interval")
	}
}

func TestParseBIRDTime(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.Local)
	if ts, ok := parseBIRDTime("2026-11-24 09:23:22", now); !ok || ts.Hour() != 9 || ts.Day() != 24 {
		t.Errorf("iso long: %v %v", ts, ok)
	}
	if ts, ok := parseBIRDTime("09:23:22", now); !ok || ts.Day() != 24 || ts.Minute() != 23 {
		t.Errorf("time only: %v %v", ts, ok)
	}
	if _, ok := parseBIRDTime("Nov24", now); ok {
		t.Error("unparseable time parsed")
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
