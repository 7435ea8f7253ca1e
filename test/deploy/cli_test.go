package deploy_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/cmd/calico-node-status/cli"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// runCLI runs the calico-node-status cobra command in-process with the admin kubeconfig.
func runCLI(ctx context.Context, env *testenv.Env, stdout, stderr *testenv.SyncBuffer, args ...string) error {
	cmd := cli.NewRootCommand(cli.Options{Streams: genericiooptions.IOStreams{In: strings.NewReader(""), Out: stdout, ErrOut: stderr}})
	cmd.SetArgs(append(args, "--kubeconfig", env.Kubeconfig))
	return cmd.ExecuteContext(ctx)
}

func cliOut(t *testing.T, env *testenv.Env, args ...string) string {
	t.Helper()
	var out, errOut testenv.SyncBuffer
	if err := runCLI(ctxFor(t, time.Minute), env, &out, &errOut, args...); err != nil {
		t.Fatalf("calico-node-status %s: %v\nstderr: %s", strings.Join(args, " "), err, errOut.String())
	}
	return out.String()
}

// contractStatus is the status of the contract's example output (api/v3/testdata), as an agent that is
// done collecting writes it: current generation, lastUpdated now, Ready True.
func contractStatus(t *testing.T, env *testenv.Env, generation int64, now time.Time) v3.CalicoNodeStatusStatus {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(env.RepoRoot, "api", "v3", "testdata", "contract-example-status.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var st v3.CalicoNodeStatusStatus
	if err := yaml.UnmarshalStrict(data, &st); err != nil {
		t.Fatal(err)
	}
	st.LastUpdated = metav1.NewTime(now.UTC().Truncate(time.Second))
	st.ObservedGeneration = generation
	st.Conditions = []metav1.Condition{{Type: v3.ConditionReady, Status: metav1.ConditionTrue, Reason: v3.ReasonCollected,
		Message: "all requested classes collected", LastTransitionTime: metav1.NewTime(now.UTC().Truncate(time.Second)), ObservedGeneration: generation}}
	return st
}

// writeStatusAsAgent writes st through the status subresource as the agent of the object's node, so
// the RBAC and the node isolation policy from config/ apply as they would to the real agent.
func writeStatusAsAgent(t *testing.T, env *testenv.Env, name string, mutate func(o *v3.CalicoNodeStatus)) {
	t.Helper()
	ctx := ctxFor(t, 30*time.Second)
	var o v3.CalicoNodeStatus
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &o); err != nil {
		t.Fatal(err)
	}
	mutate(&o)
	if err := agentOn(o.Spec.Node).client(t, env).Status().Update(ctx, &o); err != nil {
		t.Fatalf("write status of %s as the agent on %s: %v", name, o.Spec.Node, err)
	}
}

// TestCLI_CreateThenGetShowsWhatTheAgentWrote creates an object with the CLI, writes its status as the
// node's agent, and checks the view for each state a reader must be able to tell apart.
func TestCLI_CreateThenGetShowsWhatTheAgentWrote(t *testing.T) {
	env := testenv.Shared(t)
	applyConfig(t)
	out := cliOut(t, env, "create", "cli-view", "--node", "node-a", "--period", "10")
	if !strings.Contains(out, "caliconodestatus.projectcalico.org/cli-view created") {
		t.Fatalf("create output: %q", out)
	}
	t.Cleanup(func() {
		_ = env.Client.Delete(context.Background(), &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "cli-view"}})
	})

	waiting := cliOut(t, env, "get", "cli-view")
	for _, w := range []string{"Status:        WAITING", "waiting for the agent on node node-a", "Classes:       Agent, BGP, Routes", "Update period: 10s"} {
		if !strings.Contains(waiting, w) {
			t.Errorf("view before any status lacks %q:\n%s", w, waiting)
		}
	}

	tests := []struct {
		name    string
		mutate  func(o *v3.CalicoNodeStatus)
		want    []string
		notWant []string
	}{
		{"fresh", func(o *v3.CalicoNodeStatus) { o.Status = contractStatus(t, env, o.Generation, time.Now()) },
			[]string{"Status:        READY", "BIRD v4: Ready, v0.3.3+birdv1.6.8, router ID 10.128.0.240", "IPv4 BGP peers: 2 established, 1 not established",
				"  10.128.0.242  NodeMesh   Established  09:23:22", "  10.128.0.241  NodeMesh   OpenSent     09:23:22",
				"IPv4 routes: 4", "  FIB   192.168.82.0/26  10.128.0.200  eth0       NodeMesh  10.128.0.200", "  FIB   10.128.0.5/16    N/A           eth0       Direct"},
			[]string{"STALE", "NOT READY"}},
		{"stale: last written an hour ago", func(o *v3.CalicoNodeStatus) {
			o.Status = contractStatus(t, env, o.Generation, time.Now().Add(-time.Hour))
		}, []string{"Status:        STALE, READY", "stale: last updated 60m ago", "is the agent on node node-a running?"}, nil},
		{"not ready: BIRD v6 unreachable", func(o *v3.CalicoNodeStatus) {
			o.Status = contractStatus(t, env, o.Generation, time.Now())
			o.Status.Agent.BIRDV6 = &v3.BGPDaemonStatus{State: v3.BGPDaemonStateNotReady}
			o.Status.Agent.Issues = []v3.StatusIssue{{Family: v3.IPFamilyV6, Reason: v3.ReasonDaemonUnreachable, Message: "dial unix /var/run/calico/bird6.ctl: connect: no such file or directory"}}
			o.Status.Conditions[0].Status, o.Status.Conditions[0].Reason, o.Status.Conditions[0].Message = metav1.ConditionFalse, v3.ReasonDaemonUnreachable, "BIRD v6 unreachable"
		}, []string{"Status:        NOT READY", "ready: DaemonUnreachable: BIRD v6 unreachable", "BIRD v6: NotReady", "! IPv6 issue: DaemonUnreachable: dial unix"},
			[]string{"STALE"}},
		{"truncated routes", func(o *v3.CalicoNodeStatus) {
			o.Status = contractStatus(t, env, o.Generation, time.Now())
			o.Status.Routes.TotalV4, o.Status.Routes.Truncated = 1500, true
		}, []string{"IPv4 routes: showing 4 of 1500 (truncated)"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			writeStatusAsAgent(t, env, "cli-view", tt.mutate)
			view := cliOut(t, env, "get", "cli-view")
			for _, w := range tt.want {
				if !strings.Contains(view, w) {
					t.Errorf("view lacks %q:\n%s", w, view)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(view, w) {
					t.Errorf("view must not contain %q:\n%s", w, view)
				}
			}
		})
	}

	// The spec changes; the agent has not written since: stale, even though lastUpdated is recent.
	writeStatusAsAgent(t, env, "cli-view", func(o *v3.CalicoNodeStatus) { o.Status = contractStatus(t, env, o.Generation, time.Now()) })
	patch := client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"updatePeriodSeconds":30}}`))
	if err := env.Client.Patch(ctxFor(t, 30*time.Second), &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "cli-view"}}, patch); err != nil {
		t.Fatal(err)
	}
	view := cliOut(t, env, "get", "--node", "node-a")
	for _, w := range []string{"Status:        STALE, READY", "collected for generation 1 of the spec, which is now at generation 2"} {
		if !strings.Contains(view, w) {
			t.Errorf("view after a spec change lacks %q:\n%s", w, view)
		}
	}
}

func TestCLI_CreateRefusedShowsTheAPIServersMessage(t *testing.T) {
	env := testenv.Shared(t)
	tests := []struct {
		name string
		args []string
		want []string
	}{
		{"period above a day", []string{"--node", "node-a", "--period", "90000"},
			[]string{"the API server refused it (Invalid)", "spec.updatePeriodSeconds", "less than or equal to 86400"}},
		{"negative period", []string{"--node", "node-a", "--period", "-1"},
			[]string{"spec.updatePeriodSeconds", "greater than or equal to 0"}},
		{"unknown class", []string{"--node", "node-a", "--classes", "Agent,Routing"},
			[]string{"spec.classes[1]", `"Routing"`}},
		{"node name not a DNS name", []string{"--node", "Node_A"}, []string{"spec.node"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut testenv.SyncBuffer
			err := runCLI(ctxFor(t, time.Minute), env, &out, &errOut, append([]string{"create", "cli-invalid"}, tt.args...)...)
			if err == nil {
				_ = env.Client.Delete(context.Background(), &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "cli-invalid"}})
				t.Fatalf("create %v succeeded; the API server must refuse it", tt.args)
			}
			t.Logf("as shown to the user: error: %v", err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			if strings.Contains(out.String(), "created") {
				t.Errorf("stdout claims success: %q", out.String())
			}
		})
	}
}

func TestCLI_OutputFormatsReadBackAsTheServersObjects(t *testing.T) {
	env := testenv.Shared(t)
	createCNS(t, env, "cli-fmt-a", "node-fmt", 10)
	createCNS(t, env, "cli-fmt-b", "node-fmt", 20)
	createCNS(t, env, "cli-fmt-other", "node-other", 10)
	var want v3.CalicoNodeStatus
	if err := env.Client.Get(ctxFor(t, 30*time.Second), client.ObjectKey{Name: "cli-fmt-a"}, &want); err != nil {
		t.Fatal(err)
	}
	want.ManagedFields = nil
	want.APIVersion, want.Kind = "projectcalico.org/v3", "CalicoNodeStatus"

	var got v3.CalicoNodeStatus
	if err := json.Unmarshal([]byte(cliOut(t, env, "get", "cli-fmt-a", "-o", "json")), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("-o json differs from the server's object (-server +cli):\n%s", diff)
	}
	var l v3.CalicoNodeStatusList
	if err := yaml.UnmarshalStrict([]byte(cliOut(t, env, "get", "--node", "node-fmt", "-o", "yaml")), &l); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range l.Items {
		names = append(names, o.Name)
	}
	if diff := cmp.Diff([]string{"cli-fmt-a", "cli-fmt-b"}, names); diff != "" {
		t.Errorf("get --node node-fmt -o yaml lists (-want +got):\n%s", diff)
	}

	var out, errOut testenv.SyncBuffer
	err := runCLI(ctxFor(t, time.Minute), env, &out, &errOut, "get", "cli-no-such-object")
	if err == nil || !strings.Contains(err.Error(), `get CalicoNodeStatus "cli-no-such-object": not found`) {
		t.Errorf("get of a missing object: %v", err)
	}
	if err := runCLI(ctxFor(t, time.Minute), env, &out, &errOut, "get", "--node", "node-nobody"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errOut.String(), "No CalicoNodeStatus for node node-nobody") {
		t.Errorf("empty get --node: stderr %q", errOut.String())
	}
}

func TestCLI_WatchPrintsEveryChange(t *testing.T) {
	env := testenv.Shared(t)
	applyConfig(t)
	createCNS(t, env, "cli-watch", "node-a", 10)
	var out, errOut testenv.SyncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runCLI(ctx, env, &out, &errOut, "get", "cli-watch", "--watch") }()
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			return context.DeadlineExceeded
		}
	}
	t.Cleanup(func() { _ = stop() })

	testenv.Eventually(t, 30*time.Second, "the first view", func() (bool, error) {
		return strings.Contains(out.String(), "Status:        WAITING"), nil
	})
	writeStatusAsAgent(t, env, "cli-watch", func(o *v3.CalicoNodeStatus) { o.Status = contractStatus(t, env, o.Generation, time.Now()) })
	testenv.Eventually(t, 30*time.Second, "a MODIFIED view showing the status", func() (bool, error) {
		s := out.String()
		return strings.Contains(s, "MODIFIED cli-watch") && strings.Contains(s, "Status:        READY") && strings.Contains(s, "10.128.0.241"), nil
	})
	writeStatusAsAgent(t, env, "cli-watch", func(o *v3.CalicoNodeStatus) {
		o.Status.Conditions[0].Status, o.Status.Conditions[0].Reason = metav1.ConditionFalse, v3.ReasonPartialParse
	})
	testenv.Eventually(t, 30*time.Second, "a view showing NOT READY", func() (bool, error) {
		return strings.Contains(out.String(), "Status:        NOT READY"), nil
	})
	if err := env.Client.Delete(ctxFor(t, 30*time.Second), &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: "cli-watch"}}); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 30*time.Second, "the deletion", func() (bool, error) {
		return strings.Contains(out.String(), "DELETED cli-watch"), nil
	})
	if err := stop(); err != nil {
		t.Errorf("get --watch did not end cleanly when cancelled: %v\nstderr: %s", err, errOut.String())
	}
}

// TestCLI_WorksAsAKubectlPlugin builds the CLI as kubectl-calico_node_status and runs it through the
// real kubectl's plugin mechanism.
func TestCLI_WorksAsAKubectlPlugin(t *testing.T) {
	env := testenv.Shared(t)
	createCNS(t, env, "cli-plugin", "node-plugin", 10)
	dir := t.TempDir()
	ctx := ctxFor(t, 5*time.Minute)
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, cli.PluginBinary), "./cmd/calico-node-status")
	build.Dir = env.RepoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build the CLI as %s: %v\n%s", cli.PluginBinary, err, out)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(env.BinDir, "kubectl"), args...)
		cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "KUBECONFIG="+env.Kubeconfig)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	list, err := run("plugin", "list")
	if !strings.Contains(list, filepath.Join(dir, cli.PluginBinary)) {
		t.Errorf("kubectl plugin list does not find the plugin (%v):\n%s", err, list)
	}
	out, err := run("calico-node-status", "get", "cli-plugin")
	if err != nil || !strings.Contains(out, "Name:          cli-plugin") || !strings.Contains(out, "waiting for the agent on node node-plugin") {
		t.Errorf("kubectl calico-node-status get cli-plugin: %v\n%s", err, out)
	}
	help, err := run("calico-node-status", "get", "--help")
	if err != nil || !strings.Contains(help, "kubectl calico-node-status get [NAME]") {
		t.Errorf("the plugin's help should name it kubectl calico-node-status (%v):\n%s", err, help)
	}
}
