package agent

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// SnapshotSource reads the node's BIRD daemon(s). *bird.Collector implements it.
type SnapshotSource interface {
	Collect(ctx context.Context, need bird.Need) bird.Snapshot
}

// sharedSnapshots hands the same snapshot to every object that comes due within maxAge of it, so several
// objects of one node cost one BIRD query per period, not one each.
type sharedSnapshots struct {
	src SnapshotSource
	now func() time.Time
	// log receives the stack of a collection that panicked (may be nil).
	log *slog.Logger

	mu   sync.Mutex
	last bird.Snapshot
	seq  uint64 // numbers the snapshots, so builds from one can be shared
	need bird.Need
	at   time.Time
	ok   bool
}

// get returns a snapshot that covers need and is at most maxAge old, collecting one when there is none.
// seq numbers the snapshot; fresh reports whether this call queried BIRD, and took is how long that read
// took (BIRD's replies and their parsing, nothing of the mapping to a status).
func (s *sharedSnapshots) get(ctx context.Context, need bird.Need, maxAge time.Duration) (snap bird.Snapshot, seq uint64, took time.Duration, fresh bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ok && covers(s.need, need) && s.now().Sub(s.at) <= maxAge {
		return s.last, s.seq, 0, false
	}
	// Let the previous snapshot go before reading the next, so two are never alive at once (its routes
	// are the bulk of the agent's memory).
	s.last, s.ok = bird.Snapshot{}, false
	start := time.Now()
	s.last = safeCollect(ctx, s.src, need, s.log)
	took = time.Since(start)
	s.seq++
	s.need, s.at, s.ok = need, s.now(), true
	return s.last, s.seq, took, true
}

func covers(have, want bird.Need) bool {
	return (have.Status || !want.Status) && (have.Protocols || !want.Protocols) && (have.Routes || !want.Routes)
}

// snapshotMaxAge is how old a shared snapshot may be for an object with this period: objects on the same
// grid point reuse it, the next grid point collects anew.
func snapshotMaxAge(period time.Duration) time.Duration {
	if period <= 0 {
		return time.Second
	}
	return min(2*time.Second, period/2)
}
