package fleet

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// Captures is the directory of the captured BIRD replies the fake daemons serve.
func Captures() (string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "internal", "bird", "testdata", "captures"), nil
}

// EmitJSON prints v as one JSON line and, when path is set, appends that line to the file (the benches'
// --json).
func EmitJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode result: %w", err)
	}
	fmt.Println(string(b))
	if path == "" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	if _, err := f.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Table renders results as the markdown table of docs/benchmarks.md.
func Table(rs []Result) string {
	var b strings.Builder
	b.WriteString("| N | pattern | classes | API server + etcd above idle (cores) | idle (cores) | scripted status changes/s | writes/s | bytes/status | PUT p50 / p99 client (ms) | PUT p50 / p99 API server (ms) | 429 steady / total | apiserver RSS (MiB) | all watching after start (s) | after API restart (s, from up / from stop) | fleet RSS per agent (KiB) |\n")
	b.WriteString("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rs {
		restart := "-"
		if r.RestartWatchingS > 0 {
			restart = fmt.Sprintf("%.1f / %.1f", r.RestartWatchingS, r.RestartWatchingFromStopS)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %+.3f | %.3f | %.2f | %.2f | %.0f | %.1f / %.1f | %.1f / %.1f | %d / %d | %.0f | %.1f | %s | %d |\n",
			r.Nodes, r.Pattern, r.Classes, r.AboveIdleCores, r.IdleCores, r.ChangesPerS, r.WritesPerS, r.BytesPerStatus, r.PutP50Ms, r.PutP99Ms, r.ServerPutP50Ms, r.ServerPutP99Ms,
			r.TooManySteady, r.TooManyTotal, float64(r.APIServerRSS)/(1<<20), r.StartWatchingS, restart, r.FleetRSSPerAgent/1024)
	}
	return b.String()
}

// WritesTable renders the writes bench's results: per shape and watcher count, each method's CPU per
// write (mean, min-max over the repeats) and its ratio to the PUT's mean of the same run.
func WritesTable(rs []WriteResult) string {
	var b strings.Builder
	b.WriteString("| object | watchers | method | object bytes | request bytes | API server + etcd CPU per write (ms, mean, min-max) | ratio to PUT | latency (ms) |\n")
	b.WriteString("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n")
	put := map[string]float64{}
	for _, r := range rs {
		if r.Method == MethodPut {
			put[fmt.Sprint(r.Shape, r.Watchers)] = mean(r.CPUms)
		}
	}
	for _, r := range rs {
		ratio := "-"
		if p := put[fmt.Sprint(r.Shape, r.Watchers)]; p > 0 {
			ratio = fmt.Sprintf("%.2f", mean(r.CPUms)/p)
		}
		fmt.Fprintf(&b, "| %s | %d | %s | %d | %d | %.1f (%.1f-%.1f) | %s | %.1f |\n", r.Shape, r.Watchers, r.Method, r.ObjectBytes, r.RequestBytes,
			mean(r.CPUms), slices.Min(r.CPUms), slices.Max(r.CPUms), ratio, mean(r.LatencyMs))
	}
	return b.String()
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}
