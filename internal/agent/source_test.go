package agent

import (
	"context"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/bird"
)

type countingSource struct{ calls int }

func TestSharedSnapshotsReuseWithinMaxAgeAndCoverage(t *testing.T) {
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	src := &countingSource{}
	s := &sharedSnapshots{src: src, now: func() time.Time { return now }}
	all := bird.Need{Status: true, Protocols: true, Routes: true}
	ctx := context.Background()
	if _, _, _, fresh := s.get(ctx, all, time.Second); !fresh {
		t.Fatal("first get did not collect")
	}
	if _, _, _, fresh := s.get(ctx, bird.Need{Status: true}, time.Second); fresh || src.calls != 1 {
		t.Fatalf("a covered need within maxAge collected again (calls %d)", src.calls)
	}
	now = now.Add(2 * time.Second)
	if _, _, _, fresh := s.get(ctx, bird.Need{Status: true}, time.Second); !fresh || src.calls != 2 {
		t.Fatalf("a snapshot older than maxAge was reused (calls %d)", src.calls)
	}
	if _, _, _, fresh := s.get(ctx, all, time.Minute); !fresh || src.calls != 3 {
		t.Fatalf("a snapshot that does not cover the need was reused (calls %d)", src.calls)
	}
}

func (c *countingSource) Collect(_ context.Context, need bird.Need) bird.Snapshot {
	c.calls++
	return bird.Snapshot{V4: bird.DaemonSnapshot{Family: bird.IPv4, Status: &bird.Status{Up: need.Status}}}
}
