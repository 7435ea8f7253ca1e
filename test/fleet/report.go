package fleet

import (
	"fmt"
	"strings"
)

// Table renders results as the markdown table of docs/benchmarks.md.
func Table(rs []Result) string {
	var b strings.Builder
	b.WriteString("| N | pattern | API server + etcd above idle (cores) | idle (cores) | writes/s | bytes/status | PUT p50 / p99 client (ms) | PUT p50 / p99 API server (ms) | 429 steady / total | apiserver RSS (MiB) | all watching after start (s) | after API restart (s, from up / from stop) | fleet RSS per agent (KiB) |\n")
	b.WriteString("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range rs {
		restart := "-"
		if r.RestartWatchingS > 0 {
			restart = fmt.Sprintf("%.1f / %.1f", r.RestartWatchingS, r.RestartWatchingFromStopS)
		}
		fmt.Fprintf(&b, "| %d | %s | %+.3f | %.3f | %.2f | %.0f | %.1f / %.1f | %.1f / %.1f | %d / %d | %.0f | %.1f | %s | %d |\n",
			r.Nodes, r.Pattern, r.AboveIdleCores, r.IdleCores, r.WritesPerS, r.BytesPerStatus, r.PutP50Ms, r.PutP99Ms, r.ServerPutP50Ms, r.ServerPutP99Ms,
			r.TooManySteady, r.TooManyTotal, float64(r.APIServerRSS)/(1<<20), r.StartWatchingS, restart, r.FleetRSSPerAgent/1024)
	}
	return b.String()
}
