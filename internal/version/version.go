// Package version says which build of calico-node-status runs: the version and commit the build stamped in
// with the linker (-ldflags "-X ...Version=... -X ...Commit=..."; the Makefile, hack/image/build.sh and
// hack/release do), and the Go version it was built with. `--version` prints it and the agent exports it as
// the calico_node_status_build_info metric.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// Set by the linker; a plain `go build` leaves the defaults below.
var (
	// Version is the release (a git tag such as v1.2.3), or v0.0.0-<commit> for an untagged build.
	Version = ""
	// Commit is the git commit the binary was built from.
	Commit = ""
)

// Info is what a binary knows about its own build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"goVersion"`
}

// Get returns the build's version information. Without ldflags it falls back to what the Go toolchain
// recorded (module version, vcs.revision), and to "unknown".
func Get() Info {
	i := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && i.Commit == "" {
				i.Commit = s.Value
			}
		}
	}
	if i.Version == "" {
		i.Version = "unknown"
	}
	if i.Commit == "" {
		i.Commit = "unknown"
	}
	return i
}

// String is the one line `--version` prints, e.g. "calico-node-status-agent v1.2.3 (commit abc, go1.26.8)".
func (i Info) String() string {
	return fmt.Sprintf("%s (commit %s, %s)", i.Version, i.Commit, i.GoVersion)
}

// NewCollector returns the calico_node_status_build_info gauge: always 1, labelled with the build's
// version, commit and Go version, so dashboards can tell which build runs where.
func NewCollector() prometheus.Collector {
	i := Get()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "calico_node_status_build_info",
		Help:        "Build of the running agent: version and commit stamped at build time, and the Go version. Always 1.",
		ConstLabels: prometheus.Labels{"version": i.Version, "commit": i.Commit, "go_version": i.GoVersion},
	})
	g.Set(1)
	return g
}
