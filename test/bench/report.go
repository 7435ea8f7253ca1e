package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testenv/procstat"
)

// Targets of the project (docs/benchmarks.md).
const (
	targetCPUPercent = 0.2                 // % of one vCPU, whole agent process
	targetRSSBytes   = 30 * 1024 * 1024    // whole agent process
	heartbeatEvery   = v3.DefaultHeartbeat // the only write allowed when nothing changed (the bench runs its agents outside a Pod: they keep this heartbeat)
)

// side is one measured process over the window.
type side struct {
	CPUSeconds     float64 `json:"cpuSeconds"`
	CPUPerPeriod   float64 `json:"cpuSecondsPerPeriod"`
	CPUPercent     float64 `json:"cpuPercentOfOneVCPU"`
	RSSBytes       uint64  `json:"rssBytes"`
	PeakRSSBytes   uint64  `json:"peakRSSBytes"`
	RSSAnonBytes   uint64  `json:"rssAnonBytes"`
	RSSFileBytes   uint64  `json:"rssFileBytes"`
	Writes         int     `json:"statusWrites"`
	BirdConns      int64   `json:"birdConnections"`
	BirdCommands   int64   `json:"birdCommands"`
	CPUTicksWindow uint64  `json:"cpuTicks"`
	// SchedCPUSeconds is the same CPU time from schedstat (ns resolution), a cross-check.
	SchedCPUSeconds float64 `json:"schedstatCPUSeconds"`
}

// report is the result of one run.
type report struct {
	Machine        machine       `json:"machine"`
	Periods        int           `json:"periods"`
	Period         time.Duration `json:"period"`
	Window         time.Duration `json:"window"`
	Nodes          int           `json:"nodes"`
	Node           string        `json:"node"`
	BirdVersion    string        `json:"birdVersion"`
	PeersV4        int           `json:"bgpProtocolsV4"`
	PeersV6        int           `json:"bgpProtocolsV6"`
	EstablishedV4  int           `json:"establishedV4"`
	EstablishedV6  int           `json:"establishedV6"`
	OriginalWrites string        `json:"originalWritePolicy"`

	Ours     side `json:"ours"`
	Original side `json:"original"`

	// Ours' own account of its writes in the window, from its metrics.
	OursCollections  float64 `json:"oursCollections"`
	OursWritesChange float64 `json:"oursWritesChanged"`
	OursWritesBeat   float64 `json:"oursWritesHeartbeat"`
	OursWriteErrors  float64 `json:"oursWriteErrors"`
	OursConflicts    float64 `json:"oursConflicts"`

	// Shared by both processes and the bench's own watch: reported, not attributed.
	APIServerCPUSeconds float64 `json:"apiserverCPUSeconds"`
	EtcdCPUSeconds      float64 `json:"etcdCPUSeconds"`
	APIServerWrites     float64 `json:"apiserverStatusWrites"`

	// What the writes in the window changed besides lastUpdated: path -> writes.
	OursChanges     map[string]int `json:"oursChanges"`
	OriginalChanges map[string]int `json:"originalChanges"`

	// What the baseline counted itself over its whole life (start-up included).
	OriginalCounters map[string]int64 `json:"originalCounters"`
}

func (r *report) fill(t0, t1 sample) {
	r.Window = t1.at.Sub(t0.at)
	secs := r.Window.Seconds()
	mk := func(a, b procstat.Sample, wa, wb int, pa, pb proxyCounts) side {
		s := side{CPUTicksWindow: b.CPUTicks - a.CPUTicks, RSSBytes: b.RSS, PeakRSSBytes: b.HWM, RSSAnonBytes: b.RSSAnon, RSSFileBytes: b.RSSFile, Writes: wb - wa,
			BirdConns: pb.Conns - pa.Conns, BirdCommands: pb.Commands - pa.Commands}
		s.CPUSeconds = b.CPUSeconds() - a.CPUSeconds()
		s.SchedCPUSeconds = float64(int64(b.CPUNanos)-int64(a.CPUNanos)) / 1e9
		s.CPUPerPeriod = s.CPUSeconds / float64(r.Periods)
		s.CPUPercent = 100 * s.CPUSeconds / secs
		return s
	}
	r.Ours = mk(t0.ours, t1.ours, t0.oursWrites, t1.oursWrites, t0.oursProxy, t1.oursProxy)
	r.Original = mk(t0.original, t1.original, t0.origWrites, t1.origWrites, t0.origProxy, t1.origProxy)
	r.OursCollections = t1.oursCollections - t0.oursCollections
	r.OursWritesChange = t1.oursChanged - t0.oursChanged
	r.OursWritesBeat = t1.oursBeats - t0.oursBeats
	r.OursWriteErrors = t1.oursWriteErrs - t0.oursWriteErrs
	r.OursConflicts = t1.oursConf - t0.oursConf
	r.APIServerCPUSeconds = t1.apiserver.CPUSeconds() - t0.apiserver.CPUSeconds()
	r.EtcdCPUSeconds = t1.etcd.CPUSeconds() - t0.etcd.CPUSeconds()
	r.APIServerWrites = t1.apiWrites - t0.apiWrites
}

// ratio is ours/original as text; "n/a" when the original is 0.
func ratio(ours, orig float64) string {
	if orig == 0 {
		if ours == 0 {
			return "n/a (0/0)"
		}
		return "n/a (x/0)"
	}
	return fmt.Sprintf("%.3f", ours/orig)
}

func mb(b uint64) float64 { return float64(b) / (1024 * 1024) }

// allowedHeartbeats is how many heartbeat writes the window may hold when nothing changes.
func (r *report) allowedHeartbeats() int {
	every := heartbeatEvery
	if r.Period > every {
		every = r.Period
	}
	return int(math.Ceil(r.Window.Seconds() / every.Seconds()))
}

// unexplainedWrites are our writes in the window that neither a content change nor an allowed heartbeat
// explains: the target is zero.
func (r *report) unexplainedWrites() int {
	return r.Ours.Writes - int(r.OursWritesChange) - min(int(r.OursWritesBeat), r.allowedHeartbeats())
}

// oursCPUPercentForTarget is the larger of the two CPU readings: utime+stime has 10 ms steps, which in a
// short window can read 0; schedstat has nanoseconds. The larger one keeps the verdict conservative.
func (r *report) oursCPUPercentForTarget() float64 {
	return 100 * max(r.Ours.CPUSeconds, r.Ours.SchedCPUSeconds) / r.Window.Seconds()
}

type verdict struct {
	Name, Value, Target string
	Met                 bool
}

func (r *report) verdicts() []verdict {
	return []verdict{
		{"agent CPU", fmt.Sprintf("%.3f %% of a vCPU", r.oursCPUPercentForTarget()), fmt.Sprintf("<= %.1f %%", targetCPUPercent), r.oursCPUPercentForTarget() <= targetCPUPercent},
		{"agent peak RSS", fmt.Sprintf("%.1f MB", mb(r.Ours.PeakRSSBytes)), fmt.Sprintf("<= %.0f MB", mb(targetRSSBytes)), r.Ours.PeakRSSBytes <= targetRSSBytes},
		{"agent writes without a change", fmt.Sprintf("%d (of %d writes: %d changed, %d heartbeat; %d heartbeat allowed)",
			r.unexplainedWrites(), r.Ours.Writes, int(r.OursWritesChange), int(r.OursWritesBeat), r.allowedHeartbeats()), "0", r.unexplainedWrites() <= 0},
	}
}

// print writes the table, the targets and the run's facts.
func (r *report) print(w io.Writer) {
	fmt.Fprintf(w, "calico-node-status bench: %s, BIRD %s, %d lab nodes; %s has %d IPv4 + %d IPv6 BGP protocols (%d + %d Established)\n",
		r.Node, r.BirdVersion, r.Nodes, r.Node, r.PeersV4, r.PeersV6, r.EstablishedV4, r.EstablishedV6)
	fmt.Fprintf(w, "window: %d periods of %s = %s measured; machine: %d vCPU, %s, kernel %s\n",
		r.Periods, r.Period, r.Window.Round(time.Millisecond), r.Machine.NProc, r.Machine.CPUModel, r.Machine.Kernel)
	fmt.Fprintf(w, "original-style baseline write policy: %s\n\n", r.OriginalWrites)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tours\toriginal-style\tratio (ours/original)")
	fmt.Fprintln(tw, "------\t----\t--------------\t---------------------")
	row := func(name string, ours, orig float64, format string) {
		fmt.Fprintf(tw, "%s\t"+format+"\t"+format+"\t%s\n", name, ours, orig, ratio(ours, orig))
	}
	p := float64(r.Periods)
	row("CPU seconds (utime+stime) in window", r.Ours.CPUSeconds, r.Original.CPUSeconds, "%.2f")
	row("CPU seconds, schedstat (ns resolution)", r.Ours.SchedCPUSeconds, r.Original.SchedCPUSeconds, "%.3f")
	row("CPU seconds per period", r.Ours.CPUPerPeriod, r.Original.CPUPerPeriod, "%.4f")
	row("CPU % of one vCPU", r.Ours.CPUPercent, r.Original.CPUPercent, "%.3f")
	row("RSS at end (MB)", mb(r.Ours.RSSBytes), mb(r.Original.RSSBytes), "%.1f")
	row("  of which anon: heap, stacks (MB)", mb(r.Ours.RSSAnonBytes), mb(r.Original.RSSAnonBytes), "%.1f")
	row("  of which file: mapped binary (MB)", mb(r.Ours.RSSFileBytes), mb(r.Original.RSSFileBytes), "%.1f")
	row("peak RSS, VmHWM (MB)", mb(r.Ours.PeakRSSBytes), mb(r.Original.PeakRSSBytes), "%.1f")
	row("status writes in window", float64(r.Ours.Writes), float64(r.Original.Writes), "%.0f")
	row("status writes per period", float64(r.Ours.Writes)/p, float64(r.Original.Writes)/p, "%.2f")
	row("BIRD connections per period", float64(r.Ours.BirdConns)/p, float64(r.Original.BirdConns)/p, "%.1f")
	row("BIRD commands per period", float64(r.Ours.BirdCommands)/p, float64(r.Original.BirdCommands)/p, "%.1f")
	tw.Flush()
	fmt.Fprintf(w, "\nshared, not attributed (both processes + the bench's watch), in the window: kube-apiserver %.2f CPU s (%.3f %% of a vCPU), etcd %.2f CPU s; API server counted %.0f status writes (watch: %d)\n",
		r.APIServerCPUSeconds, 100*r.APIServerCPUSeconds/r.Window.Seconds(), r.EtcdCPUSeconds, r.APIServerWrites, r.Ours.Writes+r.Original.Writes)
	fmt.Fprintf(w, "our agent in the window: %.0f collections, %.0f write errors, %.0f conflicts; baseline over its life: %s\n",
		r.OursCollections, r.OursWriteErrors, r.OursConflicts, counters(r.OriginalCounters))
	fmt.Fprintf(w, "what our writes changed: %s\n", summarize(r.OursChanges))
	fmt.Fprintf(w, "what the baseline's writes changed: %s\n", summarize(r.OriginalChanges))
	fmt.Fprintln(w, "\ntargets (our agent):")
	for _, v := range r.verdicts() {
		state := "target met"
		if !v.Met {
			state = "target missed"
		}
		fmt.Fprintf(w, "  %-30s %s (target %s): %s\n", v.Name, v.Value, v.Target, state)
	}
}

func counters(m map[string]int64) string {
	keys := []string{"ticks", "writes", "writeErrors", "conflicts", "birdConnections", "birdCommands", "populateErrors"}
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", k, itoa(m[k]))
	}
	return b.String()
}
