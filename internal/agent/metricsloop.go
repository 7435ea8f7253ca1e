package agent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
	"github.com/calico-node-status/calico-node-status/internal/status"
)

// DefaultMetricsInterval is how often the agent reads BIRD's sessions for its session metrics, whether or
// not any CalicoNodeStatus exists.
const DefaultMetricsInterval = 30 * time.Second

// MetricsLoop reads the node's BGP daemons and sessions every Interval for the session metrics
// (SessionMetrics), so they exist with no CalicoNodeStatus at all and never freeze. It reads through the
// reconciler's shared snapshots: a status collection within the last half interval is reused rather than
// BIRD asked again, and a read of the loop serves status collections due within their own maximum age. Its
// reads feed the flap history too.
type MetricsLoop struct {
	Reconciler *Reconciler
	Metrics    *SessionMetrics
	Interval   time.Duration
	Log        *slog.Logger
}

// Run reads at once and then every Interval until ctx ends.
func (l *MetricsLoop) Run(ctx context.Context) {
	t := time.NewTicker(l.Interval)
	defer t.Stop()
	for {
		l.Once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// metricsNeed is what the session metrics read: the daemons' status and the protocols (sessions and their
// route counters); never the route table.
var metricsNeed = bird.Need{Status: true, Protocols: true}

// Once takes one reading (shared when recent enough) and publishes it.
func (l *MetricsLoop) Once(ctx context.Context) {
	r := l.Reconciler
	snap, seq, _, _ := r.snapshots.get(ctx, metricsNeed, l.Interval/2)
	// Uncapped: the status caps its peer lists and its size, the metrics keep every session.
	bgp := status.Build(snap, []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, status.Options{MaxPeersPerFamily: -1, MaxStatusBytes: -1}).BGP
	r.flaps.observe(seq, bgp, r.Now())
	l.Metrics.publish(snap, bgp, &r.flaps, r.Now())
	if l.Log != nil {
		l.Log.Debug("session metrics read", "snapshot", seq)
	}
}

// SessionMetrics is a prometheus.Collector that reports the last reading as bird_exporter-like series, so a
// session that is gone has no series any more (nothing to prune):
//
//	calico_node_status_bgp_session_up{node,peer,type,protocol,family}              1 Established, 0 otherwise
//	calico_node_status_bgp_session_state{node,peer,type,protocol,family,state}     state set: 1 for the current state
//	calico_node_status_bgp_session_prefixes_imported{node,peer,type,protocol,family}
//	calico_node_status_bgp_session_prefixes_exported{node,peer,type,protocol,family}
//	calico_node_status_bgp_session_flaps{node,peer,type,protocol,family}           times it left Established (flaps.go)
//	calico_node_status_bgp_mesh_peers{node,family}                                 NodeMesh sessions configured
//	calico_node_status_bgp_mesh_peers_established{node,family}                     ... of which Established
//	calico_node_status_bgp_daemon_up{node,family}                                  1 when BIRD answered "up and running"
//	calico_node_status_session_collection_ok{node}                                 1 when the last reading had no error
//	calico_node_status_session_collection_timestamp_seconds{node}                  when the last reading was taken
//	calico_node_status_session_collection_errors_total{node,family,section,reason} sections that failed
//
// A family's daemon is reported once it answered, or while its socket exists: a node without IPv6 (no
// bird6 socket) has no IPv6 daemon series, and one whose BIRD was up and then vanished reports 0.
type SessionMetrics struct {
	node string

	up, state, imported, exported, flaps, meshPeers, meshEst, daemonUp, ok, stamp *prometheus.Desc
	errors                                                                        *prometheus.CounterVec

	mu       sync.Mutex
	have     bool
	sessions []sessionSample
	mesh     map[string][2]int // family -> configured, established
	daemons  map[string]float64
	answered map[string]bool // families whose daemon answered at least once
	allOK    bool
	at       time.Time
}

type sessionSample struct {
	family, peer, typ, protocol string
	state                       v3.BGPSessionState
	imported, exported          int64
	flaps                       int32
}

// sessionStates are the state set's members: the contract's states and Unknown (a state BIRD printed that
// the contract has no value for).
var sessionStates = []string{"Idle", "Connect", "Active", "OpenSent", "OpenConfirm", "Established", "Close", "Unknown"}

// NewSessionMetrics creates the collector for node and registers it with reg.
func NewSessionMetrics(reg prometheus.Registerer, node string) (*SessionMetrics, error) {
	sessionLabels := []string{"node", "peer", "type", "protocol", "family"}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(metricsNamespace, "", name), help, labels, nil)
	}
	m := &SessionMetrics{node: node,
		up:        d("bgp_session_up", "1 when the BGP session is Established, 0 otherwise (the agent's own reading, every --metrics-interval).", sessionLabels...),
		state:     d("bgp_session_state", "State set of each BGP session: 1 for the state it is in, 0 for the others.", append(sessionLabels, "state")...),
		imported:  d("bgp_session_prefixes_imported", "Routes imported from the peer (BIRD's route counters).", sessionLabels...),
		exported:  d("bgp_session_prefixes_exported", "Routes exported to the peer (BIRD's route counters).", sessionLabels...),
		flaps:     d("bgp_session_flaps", "Times the session left Established as the agent saw it since it started (see the status's flapCount).", sessionLabels...),
		meshPeers: d("bgp_mesh_peers", "Node-to-node mesh (NodeMesh) sessions configured in BIRD, per family; every node of a full mesh has as many as the node with most.", "node", "family"),
		meshEst:   d("bgp_mesh_peers_established", "Node-to-node mesh sessions that are Established, per family.", "node", "family"),
		daemonUp:  d("bgp_daemon_up", "1 when the family's BIRD daemon answered and said it is up and running, 0 when it did not.", "node", "family"),
		ok:        d("session_collection_ok", "1 when the agent's last reading of BIRD for the session metrics had no error.", "node"),
		stamp:     d("session_collection_timestamp_seconds", "When the agent last read BIRD for the session metrics (Unix time).", "node"),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "session_collection_errors_total",
			Help:        "Sections of the session metrics' readings of BIRD that failed, per family, section and reason.",
			ConstLabels: prometheus.Labels{"node": node}}, []string{"family", "section", "reason"}),
		answered: map[string]bool{},
	}
	if err := reg.Register(m); err != nil {
		return nil, errors.Join(errors.New("register session metrics"), err)
	}
	return m, nil
}

// Describe implements prometheus.Collector.
func (m *SessionMetrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{m.up, m.state, m.imported, m.exported, m.flaps, m.meshPeers, m.meshEst, m.daemonUp, m.ok, m.stamp} {
		ch <- d
	}
	m.errors.Describe(ch)
}

// Collect implements prometheus.Collector: the series of the last reading.
func (m *SessionMetrics) Collect(ch chan<- prometheus.Metric) {
	m.errors.Collect(ch)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.have {
		return
	}
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, s := range m.sessions {
		l := []string{m.node, s.peer, s.typ, s.protocol, s.family}
		up := 0.0
		if s.state == v3.BGPSessionStateEstablished {
			up = 1
		}
		g(m.up, up, l...)
		cur := string(s.state)
		if cur == "" {
			cur = "Unknown"
		}
		for _, st := range sessionStates {
			v := 0.0
			if st == cur {
				v = 1
			}
			g(m.state, v, append(l, st)...)
		}
		g(m.imported, float64(s.imported), l...)
		g(m.exported, float64(s.exported), l...)
		g(m.flaps, float64(s.flaps), l...)
	}
	for fam, c := range m.mesh {
		g(m.meshPeers, float64(c[0]), m.node, fam)
		g(m.meshEst, float64(c[1]), m.node, fam)
	}
	for fam, v := range m.daemons {
		g(m.daemonUp, v, m.node, fam)
	}
	ok := 0.0
	if m.allOK {
		ok = 1
	}
	g(m.ok, ok, m.node)
	g(m.stamp, float64(m.at.UnixMilli())/1000, m.node)
}

// publish replaces the reported reading with snap's (bgp: its sessions, uncapped).
func (m *SessionMetrics) publish(snap bird.Snapshot, bgp *v3.CalicoNodeBGPStatus, flaps *flapTracker, now time.Time) {
	allOK := true
	daemons := map[string]float64{}
	protocolsOK := map[string]bool{}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range []*bird.DaemonSnapshot{&snap.V4, &snap.V6} {
		fam := d.Family.String()
		if d.Family == 0 {
			continue
		}
		if d.StatusErr == nil && d.Status != nil {
			m.answered[fam] = true
		}
		// A family whose socket does not exist and whose daemon never answered is one the node does not run
		// (no bird6 without IPv6): no series, no error. Once seen, or with a socket that fails, it counts.
		if !m.answered[fam] && absentDaemon(d) {
			continue
		}
		for section, err := range map[string]error{"status": d.StatusErr, "protocols": d.ProtocolsErr} {
			if err != nil {
				m.errors.WithLabelValues(fam, section, status.ErrorReason(err)).Inc()
				allOK = false
			}
		}
		daemons[fam] = 0
		if d.StatusErr == nil && d.Status != nil && d.Status.Up {
			daemons[fam] = 1
		}
		protocolsOK[fam] = d.ProtocolsErr == nil
	}
	m.daemons = daemons
	m.allOK = allOK
	m.at = now
	m.have = true
	m.sessions = m.sessions[:0]
	m.mesh = map[string][2]int{}
	if bgp == nil {
		return
	}
	for _, fl := range []struct {
		fam   v3.IPFamily
		peers []v3.CalicoNodePeer
	}{{v3.IPFamilyV4, bgp.PeersV4}, {v3.IPFamilyV6, bgp.PeersV6}} {
		fam := string(fl.fam)
		if protocolsOK[fam] {
			m.mesh[fam] = [2]int{}
		}
		for i := range fl.peers {
			p := &fl.peers[i]
			peer := p.PeerIP
			if p.Zone != "" {
				peer += "%" + p.Zone
			}
			m.sessions = append(m.sessions, sessionSample{family: fam, peer: peer, typ: string(p.Type), protocol: p.Protocol,
				state: p.State, imported: p.RoutesImported, exported: p.RoutesExported, flaps: flaps.count(fl.fam, p)})
			if p.Type == v3.BGPPeerTypeNodeMesh {
				c := m.mesh[fam]
				c[0]++
				if p.State == v3.BGPSessionStateEstablished {
					c[1]++
				}
				m.mesh[fam] = c
			}
		}
	}
}

// absentDaemon reports whether a family's daemon is not there at all: no socket configured or none on disk.
func absentDaemon(d *bird.DaemonSnapshot) bool {
	for _, err := range []error{d.StatusErr, d.ProtocolsErr} {
		if err != nil && (errors.Is(err, bird.ErrNoSocket) || errors.Is(err, os.ErrNotExist)) {
			return true
		}
	}
	return false
}

// count is the session's flaps as the tracker knows them, without seeding it from a status (the reconciler
// does that, from the object it writes).
func (f *flapTracker) count(fam v3.IPFamily, p *v3.CalicoNodePeer) int32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if h := f.peers[keyOf(fam, p)]; h != nil {
		return h.flaps
	}
	return 0
}
