package agent

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
)

const metricsNamespace = "calico_node_status"

// Metrics are the agent's Prometheus metrics. They describe the node's BIRD as last collected and the
// agent's own work; they are per node, not per CalicoNodeStatus object.
type Metrics struct {
	peerState       *prometheus.GaugeVec
	peerSince       *prometheus.GaugeVec
	peers           *prometheus.GaugeVec
	routes          *prometheus.GaugeVec
	daemonUp        *prometheus.GaugeVec
	collectDuration prometheus.Histogram
	birdErrors      *prometheus.CounterVec
	parseWarnings   *prometheus.CounterVec
	writes          *prometheus.CounterVec
	conflicts       prometheus.Counter
	unchanged       prometheus.Counter
	eventsDropped   prometheus.Counter
	beside          *besideMetrics // apicheck.go
	panics          *prometheus.CounterVec
}

// NewMetrics creates the metrics and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		peerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "bgp_peer_state",
			Help: "1 for the BGP session state each peer is in (label state), per family, peer IP, type and BIRD protocol."},
			[]string{"family", "peer_ip", "peer_type", "protocol", "state"}),
		peerSince: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "bgp_peer_state_since_timestamp_seconds",
			Help: "When each BGP session last changed state, as a Unix time (when BIRD's time format gives a full date)."},
			[]string{"family", "peer_ip", "protocol"}),
		peers: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "bgp_peers",
			Help: "Number of BGP sessions per family, established or not."}, []string{"family", "established"}),
		routes: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "routes",
			Help: "Number of routes BIRD holds per family, FIB (selected) or RIB."}, []string{"family", "type"}),
		daemonUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "bird_up",
			Help: "1 when the BIRD daemon of the family answered and reported itself up."}, []string{"family"}),
		collectDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: "collection_duration_seconds",
			Help: "Time to read one snapshot from BIRD.", Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10)}),
		birdErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "bird_errors_total",
			Help: "Sections of a collection that failed, per family, section and reason."}, []string{"family", "section", "reason"}),
		parseWarnings: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "bird_parse_warnings_total",
			Help: "BIRD reply lines that could not be parsed and were skipped."}, []string{"family"}),
		writes: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "status_writes_total",
			Help: "Status writes to the API server, by why they were made (changed, heartbeat) or failed (error)."}, []string{"reason"}),
		conflicts: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "status_write_conflicts_total",
			Help: "Status writes refused because the object changed meanwhile (retried on fresh data)."}),
		unchanged: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "status_unchanged_total",
			Help: "Collections whose status equalled the object's, so nothing was written."}),
		eventsDropped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "events_dropped_total",
			Help: "Kubernetes Events dropped because the agent's bounded Event queue was full."}),
		panics: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "panics_total",
			Help: "Panics recovered (bugs met by some input), by where: parse (one section failed), collect (one collection failed), reconcile (one reconcile failed, retried)."}, []string{"where"}),
	}
	for _, c := range []prometheus.Collector{m.peerState, m.peerSince, m.peers, m.routes, m.daemonUp, m.collectDuration,
		m.birdErrors, m.parseWarnings, m.writes, m.conflicts, m.unchanged, m.eventsDropped, m.panics} {
		if err := reg.Register(c); err != nil {
			return nil, errors.Join(errors.New("register agent metrics"), err)
		}
	}
	for _, where := range []string{panicParse, panicCollect, panicReconcile} {
		m.panics.WithLabelValues(where) // exported at 0 from the start, for rate() and alerts
	}
	var err error
	if m.beside, err = newBesideMetrics(reg); err != nil {
		return nil, err
	}
	return m, nil
}

// observeSnapshot updates the BIRD metrics from a fresh snapshot read in took.
func (m *Metrics) observeSnapshot(snap bird.Snapshot, took time.Duration) {
	if m == nil {
		return
	}
	m.collectDuration.Observe(took.Seconds())
	for _, pe := range snapshotPanics(snap) {
		m.panicked(panicWhere(pe))
	}
	for _, d := range []*bird.DaemonSnapshot{&snap.V4, &snap.V6} {
		fam := d.Family.String()
		for section, err := range map[string]error{"status": d.StatusErr, "protocols": d.ProtocolsErr, "routes": d.RoutesErr} {
			if err != nil {
				m.birdErrors.WithLabelValues(fam, section, status.ErrorReason(err)).Inc()
			}
		}
		if len(d.Warnings) > 0 {
			m.parseWarnings.WithLabelValues(fam).Add(float64(len(d.Warnings)))
		}
		if d.Status != nil || d.StatusErr != nil {
			up := 0.0
			if d.StatusErr == nil && d.Status.Up {
				up = 1
			}
			m.daemonUp.WithLabelValues(fam).Set(up)
		}
		if d.RoutesErr == nil {
			// Totals, not the routes the snapshot kept (the collector keeps only what a status can list).
			total, fib := d.TotalRoutes(), d.FIBRoutes()
			m.routes.WithLabelValues(fam, "FIB").Set(float64(fib))
			m.routes.WithLabelValues(fam, "RIB").Set(float64(total - fib))
		}
	}
}

// observePeers updates the peer metrics from the BGP section of a snapshot's status build.
func (m *Metrics) observePeers(bgp *v3.CalicoNodeBGPStatus) {
	if m == nil || bgp == nil {
		return
	}
	// Peers come and go: rebuild the per-peer series so a removed peer's series disappears.
	m.peerState.Reset()
	m.peerSince.Reset()
	for fam, peers := range map[string][]v3.CalicoNodePeer{"IPv4": bgp.PeersV4, "IPv6": bgp.PeersV6} {
		for _, p := range peers {
			m.peerState.WithLabelValues(fam, p.PeerIP, string(p.Type), p.Protocol, string(p.State)).Set(1)
			if ts, ok := parseBIRDTime(p.Since, time.Now()); ok {
				m.peerSince.WithLabelValues(fam, p.PeerIP, p.Protocol).Set(float64(ts.Unix()))
			}
		}
	}
	m.peers.WithLabelValues("IPv4", "true").Set(float64(bgp.NumberEstablishedV4))
	m.peers.WithLabelValues("IPv4", "false").Set(float64(bgp.NumberNotEstablishedV4))
	m.peers.WithLabelValues("IPv6", "true").Set(float64(bgp.NumberEstablishedV6))
	m.peers.WithLabelValues("IPv6", "false").Set(float64(bgp.NumberNotEstablishedV6))
}

func (m *Metrics) wrote(reason string) {
	if m != nil {
		m.writes.WithLabelValues(reason).Inc()
	}
}

func (m *Metrics) panicked(where string) {
	if m != nil {
		m.panics.WithLabelValues(where).Inc()
	}
}

func (m *Metrics) conflict() {
	if m != nil {
		m.conflicts.Inc()
	}
}

func (m *Metrics) skipped() {
	if m != nil {
		m.unchanged.Inc()
	}
}

// parseBIRDTime reads a time as BIRD prints it in the node's local time zone: "2006-01-02 15:04:05"
// (iso long) or "15:04:05" (today, BIRD's default for recent events).
func parseBIRDTime(s string, now time.Time) (time.Time, bool) {
	if t, err := time.ParseInLocation(time.DateTime, s, time.Local); err == nil {
		return t, true
	}
	if t, err := time.ParseInLocation(time.TimeOnly, s, time.Local); err == nil {
		y, mo, d := now.In(time.Local).Date()
		return time.Date(y, mo, d, t.Hour(), t.Minute(), t.Second(), 0, time.Local), true
	}
	return time.Time{}, false
}

// EventDropped counts an Event the bounded queue had no room for (AsyncEvents' dropped callback).
func (m *Metrics) EventDropped() {
	if m == nil {
		return
	}
	m.eventsDropped.Inc()
}
