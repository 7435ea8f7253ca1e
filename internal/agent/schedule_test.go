package agent

import (
	"testing"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
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
		if got := heartbeatDue(now, tc.lastUpdated, tc.period, v3.DefaultHeartbeat); got != tc.want {
			t.Errorf("%s: heartbeatDue = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestHeartbeatDueWithoutHeartbeat: with no heartbeat (an agent in a Pod) an unchanged status is never
// rewritten however old, but one never written is.
func TestHeartbeatDueWithoutHeartbeat(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	if heartbeatDue(now, now.Add(-30*24*time.Hour), 10*time.Second, 0) {
		t.Error("no heartbeat: a status unchanged for 30 days is due")
	}
	if !heartbeatDue(now, time.Time{}, 10*time.Second, 0) {
		t.Error("no heartbeat: a status never written is not due")
	}
}
