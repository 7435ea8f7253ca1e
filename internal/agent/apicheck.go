package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"

	"github.com/calico-node-status/calico-node-status/internal/apicheck"
)

// APIChecker finds out, with internal/apicheck, whether the CalicoNodeStatus API the agent talks to is
// calico-node-status's CRD, at start and whenever the watch or a status write gets an answer that says
// it may not be (400, 404, 405, 406, 503). While something is wrong it keeps the report for readiness and
// the api_problem metric, logs it, and checks again with backoff until it is fixed; the watch retries on
// its own (client-go's reflector backoff), so the agent recovers without a restart.
type APIChecker struct {
	client rest.Interface
	log    *slog.Logger
	gauge  *prometheus.GaugeVec // may be nil
	// MinBackoff and MaxBackoff bound the interval of checks while a problem lasts; the first check after a
	// trigger also waits MinBackoff since the last one, so a failing watch cannot flood the API server.
	MinBackoff, MaxBackoff time.Duration
	// LogEvery is how often a lasting problem is logged again.
	LogEvery time.Duration

	trigger chan struct{}

	mu      sync.Mutex
	report  apicheck.Report
	err     error
	checked bool
	lastLog time.Time
	last    time.Time
}

// NewAPIChecker creates the checker; m may be nil (no metric).
func NewAPIChecker(cfg *rest.Config, log *slog.Logger, m *Metrics) (*APIChecker, error) {
	c, err := apicheck.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	ch := &APIChecker{client: c, log: log, MinBackoff: time.Second, MaxBackoff: 5 * time.Minute, LogEvery: 5 * time.Minute,
		trigger: make(chan struct{}, 1)}
	if m != nil && m.beside != nil {
		ch.gauge = m.beside.apiProblem
	}
	return ch, nil
}

// suspicious reports whether an API error may mean that the CalicoNodeStatus API is not ours: not served
// (404), served by an aggregated API server that is down (503), served without our selectable field (400)
// or without the status subresource (404, 405).
func suspicious(err error) bool {
	return apierrors.IsNotFound(err) || apierrors.IsServiceUnavailable(err) || apierrors.IsBadRequest(err) ||
		apierrors.IsMethodNotSupported(err) || apierrors.IsNotAcceptable(err)
}

// Observe takes the outcome of a request to the CalicoNodeStatus API: an error that may mean the API is
// not ours asks for a check soon, and so does a success while a problem is known (it may be fixed). Safe
// on a nil checker.
func (c *APIChecker) Observe(err error) {
	if c == nil {
		return
	}
	if err == nil {
		if _, bad := c.Problem(); !bad {
			return
		}
	} else if !suspicious(err) {
		return
	}
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Problem returns the last check's report when it found something wrong.
func (c *APIChecker) Problem() (apicheck.Report, bool) {
	if c == nil {
		return apicheck.Report{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.report, c.checked && !c.report.OK()
}

// CheckNow checks at once and returns the report (also kept for Problem).
func (c *APIChecker) CheckNow(ctx context.Context) (apicheck.Report, error) {
	rep, err := apicheck.Check(ctx, c.client)
	c.record(rep, err)
	return rep, err
}

// Run checks at start, then on triggers (see Observe), and with backoff while a problem lasts, until ctx
// ends.
func (c *APIChecker) Run(ctx context.Context) {
	backoff := c.MinBackoff
	for {
		rep, err := c.CheckNow(ctx)
		var retry <-chan time.Time
		var timer *time.Timer
		if err != nil || !rep.OK() {
			timer = time.NewTimer(backoff)
			retry = timer.C
			backoff = min(2*backoff, c.MaxBackoff)
		} else {
			backoff = c.MinBackoff
		}
		select {
		case <-ctx.Done():
		case <-retry:
		case <-c.trigger:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
		// At most one check per MinBackoff, however often the watch fails.
		c.mu.Lock()
		wait := c.MinBackoff - time.Since(c.last)
		c.mu.Unlock()
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}

func (c *APIChecker) record(rep apicheck.Report, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	c.last = now
	if err != nil {
		// The API server could not be asked (down, unreachable): keep what was known; the watch says the rest.
		if c.err == nil || now.Sub(c.lastLog) >= c.LogEvery {
			c.log.Warn("cannot check who serves CalicoNodeStatus; retrying with backoff", "err", err)
			c.lastLog = now
		}
		c.err = err
		return
	}
	changed := !c.checked || c.report.Problem != rep.Problem
	c.err, c.report, c.checked = nil, rep, true
	switch {
	case !rep.OK() && (changed || now.Sub(c.lastLog) >= c.LogEvery):
		c.log.Error("the CalicoNodeStatus API is not usable by calico-node-status; not ready, retrying with backoff",
			"problem", string(rep.Problem), "seen", rep.Seen, "message", rep.Message)
		c.lastLog = now
	case rep.OK() && changed:
		c.log.Info("CalicoNodeStatus API checked", "seen", rep.Seen)
	}
	if c.gauge != nil {
		for _, p := range apicheck.Problems {
			v := 0.0
			if p == rep.Problem {
				v = 1
			}
			c.gauge.WithLabelValues(string(p)).Set(v)
		}
	}
}

// ReadyError returns why the agent is not ready because of the API, or nil.
func (c *APIChecker) ReadyError() error {
	if rep, bad := c.Problem(); bad {
		return fmt.Errorf("%s: %s", rep.Problem, rep.Message)
	}
	return nil
}

// errStatusNotWritable says that an object exists but its status cannot be written (404 on /status).
var errStatusNotWritable = errors.New("the object exists but its status subresource does not")

// besideMetrics are the metrics of running beside Calico's own API.
type besideMetrics struct {
	apiProblem   *prometheus.GaugeVec
	otherWriters prometheus.Gauge
}

func newBesideMetrics(reg prometheus.Registerer) (*besideMetrics, error) {
	b := &besideMetrics{
		apiProblem: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "api_problem",
			Help: "1 for what keeps the agent from using the CalicoNodeStatus API (CRDNotInstalled, ServedByAPIService: an " +
				"aggregated API server such as Calico's shadows the CRD, NoStatusSubresource: Calico's own CRD is installed); " +
				"all 0 when the API is calico-node-status's CRD."}, []string{"problem"}),
		otherWriters: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "objects_with_other_writer",
			Help: "Objects of this node whose status another field manager (such as calico-node's own reporter) writes; the agent " +
				"leaves them alone until that writer is quiet or gone."}),
	}
	for _, c := range []prometheus.Collector{b.apiProblem, b.otherWriters} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics of the API check: %w", err)
		}
	}
	for _, p := range apicheck.Problems {
		b.apiProblem.WithLabelValues(string(p)).Set(0)
	}
	return b, nil
}
