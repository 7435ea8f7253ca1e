package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// agentProc is one agent process: the real binary with its own kubeconfig, node name, BIRD sockets and
// loopback ports. Its output goes to a log file printed when the test fails.
type agentProc struct {
	node    string
	args    []string
	logPath string
	metrics string // host:port of /metrics
	health  string // host:port of /healthz and /readyz

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the process exited
	err  error         // its exit error, once done
}

// agentConfig is what an agent is started with.
type agentConfig struct {
	node, kubeconfig string
	sock4, sock6     string
	extra            []string
}

// startAgent starts an agent and waits until it serves /readyz. It is stopped, and its log printed if the
// test failed, when t ends. dir keeps the log file (a directory that outlives the agent's cleanup).
func startAgent(t testing.TB, dir string, c agentConfig) *agentProc {
	t.Helper()
	bin := agentBinary(t)
	a := &agentProc{node: c.node, logPath: filepath.Join(dir, "agent-"+c.node+".log"),
		metrics: testenv.FreeAddr(t), health: testenv.FreeAddr(t)}
	a.args = append([]string{
		"--kubeconfig", c.kubeconfig,
		"--node-name", c.node,
		"--bird-socket", c.sock4,
		"--bird6-socket", c.sock6,
		"--metrics-bind-address", a.metrics,
		"--health-probe-bind-address", a.health,
		"--bird-timeout", "10s",
		// Long enough that no freshness heartbeat falls into a test: every write the tests see is a change.
		"--heartbeat", "1h",
		// No reads of BIRD of the session metrics' own: the tests count and hold the agent's reads (a test that
		// wants them gives --metrics-interval again in extra; the last one counts).
		"--metrics-interval", "0",
		"-v",
	}, c.extra...)
	t.Cleanup(func() {
		a.stop(t)
		if t.Failed() {
			a.printLog(t, 300)
		}
	})
	a.start(t, bin)
	return a
}

func (a *agentProc) start(t testing.TB, bin string) {
	t.Helper()
	f, err := os.OpenFile(a.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatalf("agent log: %v", err)
	}
	fmt.Fprintf(f, "=== %s start %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(a.args, " "))
	cmd := exec.Command(bin, a.args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Should the test binary die without its cleanups (a panic, -timeout), the agents die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		t.Fatalf("start agent for %s: %v", a.node, err)
	}
	done := make(chan struct{})
	a.mu.Lock()
	a.cmd, a.done, a.err = cmd, done, nil
	a.mu.Unlock()
	go func() {
		err := cmd.Wait()
		_ = f.Close()
		a.mu.Lock()
		a.err = err
		a.mu.Unlock()
		close(done)
	}()
	testenv.Eventually(t, 60*time.Second, "agent for "+a.node+" ready (/readyz 200)", func() (bool, string) {
		if !a.running() {
			return false, fmt.Sprintf("agent exited: %v", a.exitErr())
		}
		code, body, err := httpGet(a.health, "/readyz")
		return err == nil && code == http.StatusOK, fmt.Sprintf("%d %s %v", code, body, err)
	})
}

// running reports whether the process has not exited.
func (a *agentProc) running() bool {
	a.mu.Lock()
	done := a.done
	a.mu.Unlock()
	select {
	case <-done:
		return false
	default:
		return true
	}
}

func (a *agentProc) exitErr() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

func (a *agentProc) pid() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cmd.Process.Pid
}

// stop sends SIGTERM and waits for the agent to exit (SIGKILL after 20 s). An agent that had already
// exited on its own is an error: agents must not crash.
func (a *agentProc) stop(t testing.TB) {
	t.Helper()
	a.mu.Lock()
	cmd, done := a.cmd, a.done
	a.mu.Unlock()
	if cmd == nil {
		return
	}
	if !a.running() {
		t.Errorf("agent for %s had exited on its own: %v", a.node, a.exitErr())
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
		if err := a.exitErr(); err != nil {
			t.Errorf("agent for %s: exit after SIGTERM: %v", a.node, err)
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Errorf("agent for %s did not stop within 20 s of SIGTERM", a.node)
	}
	a.mu.Lock()
	a.cmd = nil // stopped on purpose: nothing for the cleanup to stop or complain about
	a.mu.Unlock()
}

// restart stops the agent and starts it again with the same flags and ports.
func (a *agentProc) restart(t testing.TB) {
	t.Helper()
	a.stop(t)
	a.start(t, agentBinary(t))
}

func (a *agentProc) printLog(t testing.TB, lines int) {
	t.Helper()
	b, err := os.ReadFile(a.logPath)
	if err != nil {
		t.Logf("agent %s log: %v", a.node, err)
		return
	}
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	t.Logf("last %d lines of agent %s's log (%s):\n%s", len(all), a.node, a.logPath, strings.Join(all, "\n"))
}

// logMark is a position in the agent's log (its size), for errorsSince.
func (a *agentProc) logMark() int64 {
	fi, err := os.Stat(a.logPath)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// errorsSince returns the error-level lines the agent logged (JSON, "level":"ERROR") after mark: a
// failed reconcile or write is logged so, whatever the agent's metrics call it.
func (a *agentProc) errorsSince(t testing.TB, mark int64) []string {
	t.Helper()
	b, err := os.ReadFile(a.logPath)
	if err != nil {
		t.Fatalf("agent %s log: %v", a.node, err)
	}
	if mark > int64(len(b)) {
		mark = 0
	}
	var out []string
	for _, line := range strings.Split(string(b[mark:]), "\n") {
		if strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, line)
		}
	}
	return out
}

// healthz is the status code of /healthz (0 when it does not answer).
func (a *agentProc) healthz() int {
	code, _, _ := httpGet(a.health, "/healthz")
	return code
}

// scrape reads the agent's /metrics over HTTP.
func (a *agentProc) scrape(t testing.TB) metrics {
	t.Helper()
	code, body, err := httpGet(a.metrics, "/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("scrape %s/metrics of agent %s: %d %v", a.metrics, a.node, code, err)
	}
	m, err := parseMetrics(body)
	if err != nil {
		t.Fatalf("agent %s /metrics: %v", a.node, err)
	}
	return m
}

// metric is the value of one series, 0 when absent.
func (a *agentProc) metric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	return a.scrape(t).get(name, labels...)
}

// metrics is a scrape in Prometheus text format: series (name{labels} as printed) to value.
type metrics []sample

type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// get sums the series of name whose labels include the given name/value pairs.
func (m metrics) get(name string, labels ...string) float64 {
	var sum float64
	for _, s := range m {
		if s.name != name {
			continue
		}
		ok := true
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				ok = false
				break
			}
		}
		if ok {
			sum += s.value
		}
	}
	return sum
}

// parseMetrics reads the text exposition format well enough for the agent's series: name, optional
// {k="v",...} without escaped quotes or commas in values, value.
func parseMetrics(body string) (metrics, error) {
	var out metrics
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s := sample{labels: map[string]string{}}
		series, value, ok := cutLast(line, " ")
		if !ok {
			return nil, fmt.Errorf("metrics line %d: no value: %q", n, line)
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: value: %w", n, err)
		}
		s.value = v
		name, rest, hasLabels := strings.Cut(series, "{")
		s.name = name
		if hasLabels {
			for _, kv := range strings.Split(strings.TrimSuffix(rest, "}"), ",") {
				if kv == "" {
					continue
				}
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return nil, fmt.Errorf("metrics line %d: label %q", n, kv)
				}
				s.labels[k] = strings.Trim(v, `"`)
			}
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

func httpGet(hostport, path string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hostport+path, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// holds reports whether cond stays true for d (checked every 100 ms); the explanation of the first
// failure otherwise.
func holds(d time.Duration, cond func() (bool, string)) (bool, string) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		if ok, why := cond(); !ok {
			return false, why
		}
		time.Sleep(100 * time.Millisecond) // the poll interval of a deadline-bounded check
	}
	return true, ""
}
