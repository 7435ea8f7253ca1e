package version

import (
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestGetUsesLinkerValues(t *testing.T) {
	oldV, oldC := Version, Commit
	t.Cleanup(func() { Version, Commit = oldV, oldC })
	Version, Commit = "v9.8.7", "0123abc"
	i := Get()
	if i.Version != "v9.8.7" || i.Commit != "0123abc" || i.GoVersion != runtime.Version() {
		t.Fatalf("Get() = %+v, want the linker's v9.8.7 / 0123abc and %s", i, runtime.Version())
	}
	if s := i.String(); s != "v9.8.7 (commit 0123abc, "+runtime.Version()+")" {
		t.Errorf("String() = %q", s)
	}
}

func TestGetWithoutLinkerValuesIsNeverEmpty(t *testing.T) {
	oldV, oldC := Version, Commit
	t.Cleanup(func() { Version, Commit = oldV, oldC })
	Version, Commit = "", ""
	i := Get()
	if i.Version == "" || i.Commit == "" {
		t.Fatalf("Get() = %+v: empty fields", i)
	}
}

func TestCollectorExportsBuildInfo(t *testing.T) {
	oldV, oldC := Version, Commit
	t.Cleanup(func() { Version, Commit = oldV, oldC })
	Version, Commit = "v1.0.0", "feedbeef"
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector())
	want := `# HELP calico_node_status_build_info Build of the running agent: version and commit stamped at build time, and the Go version. Always 1.
# TYPE calico_node_status_build_info gauge
calico_node_status_build_info{commit="feedbeef",go_version="` + runtime.Version() + `",version="v1.0.0"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "calico_node_status_build_info"); err != nil {
		t.Fatal(err)
	}
}
