package agent

import (
	"hash/fnv"
	"time"
)

// grid places every collection of a node on the points k*period + offset of the wall clock. All objects of
// a node with the same period (or periods that divide each other) then come due together and share one
// BIRD query, and the node's offset, derived from its name, spreads the nodes of a cluster evenly over the
// period instead of having thousands of agents write in the same second.
type grid struct {
	// fraction of the period by which this node's grid is shifted, in [0, 1).
	fraction float64
}

func newGrid(nodeName string) grid {
	h := fnv.New32a()
	_, _ = h.Write([]byte(nodeName))
	return grid{fraction: float64(h.Sum32()) / (1 << 32)}
}

// next returns the first grid point for period after last that is at least half a period after it, so a
// collection made off-grid (a new object, a spec change) is not followed by another one moments later.
func (g grid) next(last time.Time, period time.Duration) time.Time {
	offset := time.Duration(g.fraction * float64(period))
	t := last.Add(-offset).Truncate(period).Add(period).Add(offset)
	if t.Sub(last) < period/2 {
		t = t.Add(period)
	}
	return t
}

// heartbeatDue reports whether lastUpdated is old enough that the status must be rewritten even though its
// content did not change: after max(period, heartbeat); never with no heartbeat (0), except for a status
// never written.
func heartbeatDue(now, lastUpdated time.Time, period, heartbeat time.Duration) bool {
	if lastUpdated.IsZero() {
		return true
	}
	if heartbeat <= 0 {
		return false
	}
	return now.Sub(lastUpdated) >= max(period, heartbeat)
}
