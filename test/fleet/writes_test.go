package fleet

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testenv/prereq"
)

// TestQuickWrites is the writes bench (make bench-writes) at its smallest as a smoke test: every method
// writes every shape, with and without idle watchers, and the measurements are sane.
func TestQuickWrites(t *testing.T) {
	if testing.Short() {
		t.Skip("writes bench smoke run starts a control plane")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	_, err = testenv.BinDir(root)
	prereq.Require(t, err == nil, "control-plane binaries", "make controlplane")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	shapes := WriteShapes[1:3] // managed (~5 KB), fleet (~12 KB)
	rs, err := RunWrites(ctx, WritesOptions{Watchers: []int{0, 20}, Writes: 10, Repeats: 1, Idle: time.Second, Shapes: shapes,
		Captures: filepath.Join(root, "internal", "bird", "testdata", "captures")})
	if err != nil {
		t.Fatal(err)
	}
	if want := 2 * len(shapes) * len(WriteMethods); len(rs) != want {
		t.Fatalf("%d results, want %d: %+v", len(rs), want, rs)
	}
	size := map[string]int{}
	for _, r := range rs {
		t.Logf("%+v", r)
		if len(r.CPUms) != 1 || r.CPUms[0] <= 0 || r.LatencyMs[0] <= 0 || r.ObjectBytes <= 0 || r.RequestBytes <= 0 {
			t.Errorf("measurements missing or not positive: %+v", r)
		}
		if r.Method == MethodMergePatch && r.RequestBytes >= r.ObjectBytes {
			t.Errorf("merge patch of %s sends %d bytes for an object of %d: not a patch of what changed", r.Shape, r.RequestBytes, r.ObjectBytes)
		}
		size[r.Shape] = r.ObjectBytes
	}
	if size["managed"] >= size["fleet"] {
		t.Errorf("object sizes not ascending: %v", size)
	}
	if out := WritesTable(rs); len(out) == 0 {
		t.Error("empty table")
	}
}
