package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NodeStatusClassType names one kind of information a CalicoNodeStatus asks for.
// +kubebuilder:validation:Enum=Agent;BGP;Routes
type NodeStatusClassType string

const (
	// NodeStatusClassTypeAgent asks for the state of the BGP daemon(s).
	NodeStatusClassTypeAgent NodeStatusClassType = "Agent"
	// NodeStatusClassTypeBGP asks for the BGP sessions.
	NodeStatusClassTypeBGP NodeStatusClassType = "BGP"
	// NodeStatusClassTypeRoutes asks for the routes the BGP daemon knows.
	NodeStatusClassTypeRoutes NodeStatusClassType = "Routes"
)

// BGPDaemonState is the state of one BGP daemon (one address family).
// +kubebuilder:validation:Enum=Ready;NotReady
type BGPDaemonState string

const (
	// BGPDaemonStateReady: the daemon answered "show status" with "Daemon is up and running".
	BGPDaemonStateReady BGPDaemonState = "Ready"
	// BGPDaemonStateNotReady: the daemon could not be reached or did not report itself up.
	BGPDaemonStateNotReady BGPDaemonState = "NotReady"
)

// BGPPeerType says how a BGP peer was configured, from Calico's protocol naming.
// +kubebuilder:validation:Enum=NodeMesh;NodePeer;GlobalPeer
type BGPPeerType string

const (
	// BGPPeerTypeNodeMesh is a node-to-node mesh peer (BIRD protocol Mesh_*).
	BGPPeerTypeNodeMesh BGPPeerType = "NodeMesh"
	// BGPPeerTypeNodePeer is an explicit per-node BGPPeer (BIRD protocol Node_*).
	BGPPeerTypeNodePeer BGPPeerType = "NodePeer"
	// BGPPeerTypeGlobalPeer is an explicit global BGPPeer (BIRD protocol Global_*).
	BGPPeerTypeGlobalPeer BGPPeerType = "GlobalPeer"
)

// BGPSessionState is the RFC 4271 state of a BGP session; empty means unknown.
// +kubebuilder:validation:Enum=Idle;Connect;Active;OpenSent;OpenConfirm;Established;Close
type BGPSessionState string

const (
	BGPSessionStateIdle        BGPSessionState = "Idle"
	BGPSessionStateConnect     BGPSessionState = "Connect"
	BGPSessionStateActive      BGPSessionState = "Active"
	BGPSessionStateOpenSent    BGPSessionState = "OpenSent"
	BGPSessionStateOpenConfirm BGPSessionState = "OpenConfirm"
	BGPSessionStateEstablished BGPSessionState = "Established"
	BGPSessionStateClose       BGPSessionState = "Close"
)

// CalicoNodeRouteType says whether a route is used for forwarding.
// +kubebuilder:validation:Enum=FIB;RIB
type CalicoNodeRouteType string

const (
	// RouteTypeFIB is the route BIRD selected and exports to the kernel.
	RouteTypeFIB CalicoNodeRouteType = "FIB"
	// RouteTypeRIB is a route BIRD knows but did not select.
	RouteTypeRIB CalicoNodeRouteType = "RIB"
)

// CalicoNodeRouteSourceType is the kind of source a route was learned from.
// +kubebuilder:validation:Enum=Kernel;Static;Direct;NodeMesh;BGPPeer
type CalicoNodeRouteSourceType string

const (
	RouteSourceTypeKernel   CalicoNodeRouteSourceType = "Kernel"
	RouteSourceTypeStatic   CalicoNodeRouteSourceType = "Static"
	RouteSourceTypeDirect   CalicoNodeRouteSourceType = "Direct"
	RouteSourceTypeNodeMesh CalicoNodeRouteSourceType = "NodeMesh"
	RouteSourceTypeBGPPeer  CalicoNodeRouteSourceType = "BGPPeer"
)

// IPFamily names an address family in a StatusIssue.
// +kubebuilder:validation:Enum=IPv4;IPv6
type IPFamily string

const (
	IPFamilyV4 IPFamily = "IPv4"
	IPFamilyV6 IPFamily = "IPv6"
)

// Condition types and reasons the agent sets in status.conditions.
const (
	// ConditionReady is True when every requested class was collected completely.
	ConditionReady = "Ready"

	// ReasonCollected: every requested class was collected completely.
	ReasonCollected = "Collected"
	// ReasonDaemonUnreachable: a BIRD daemon did not answer at all (socket absent, refused, cut off, timed out).
	ReasonDaemonUnreachable = "DaemonUnreachable"
	// ReasonCollectionFailed: a BIRD daemon answered something unusable (an error reply, a reply too large).
	ReasonCollectionFailed = "CollectionFailed"
	// ReasonPartialParse: some reply lines could not be parsed and were skipped; the rest was kept.
	ReasonPartialParse = "PartialParse"
	// ReasonRoutesTruncated: a route list was cut to the agent's cap; totalV4/totalV6 hold the full counts.
	ReasonRoutesTruncated = "RoutesTruncated"
	// ReasonPeersTruncated: a peer list was cut to the agent's cap (sessions not established are kept
	// first); the numberEstablished/numberNotEstablished counts still count every session.
	ReasonPeersTruncated = "PeersTruncated"
	// ReasonVersionUnrecognized: a BIRD daemon's version string could not be read; its replies were read in
	// the dialect (BIRD 1.x or 2.x) the message names, decided from what the daemon printed or from its
	// control sockets. Informational: the sections are complete if nothing else is reported.
	ReasonVersionUnrecognized = "VersionUnrecognized"
	// ReasonRefreshDisabled: updatePeriodSeconds is 0; the status was collected once for this generation.
	ReasonRefreshDisabled = "RefreshDisabled"
	// ReasonTooManyObjects: the node has more CalicoNodeStatus objects than its agent serves (its
	// --max-objects-per-node); the oldest ones are served, this one is not until others are deleted.
	ReasonTooManyObjects = "TooManyObjects"

	// ConditionOtherWriter is True while another writer (a field manager other than the agent, such as
	// calico-node's own CalicoNodeStatus reporter) writes this object's status. The agent then stops
	// writing the object, so two writers never fight over one status, and resumes when that writer has been
	// quiet for a while or is gone; it removes the condition when it resumes.
	ConditionOtherWriter = "OtherWriter"
	// ReasonStatusWrittenByOther: the reason of OtherWriter=True, and of Ready=False while the agent leaves
	// the status to the other writer.
	ReasonStatusWrittenByOther = "StatusWrittenByOther"

	// ConditionCountsOnly is True while the agent writes the counts without the lists because the API
	// server refused the full status (too large, or invalid); absent otherwise.
	ConditionCountsOnly = "CountsOnly"
	// ReasonStatusRefused: the API server refused the full status; the lists are omitted, the counts kept.
	ReasonStatusRefused = "StatusRefused"
)

// The CRD's bounds on the status (the markers below say the same; a test keeps them in step). The agent
// clamps every string and caps every list within them, so a status it writes is never refused for them.
const (
	// MaxShortStringLength bounds names, addresses, interfaces and times (BIRD's names are at most 64).
	MaxShortStringLength = 64
	// MaxTextLength bounds a peer's info and an issue's message.
	MaxTextLength = 1024
	// MaxPeersPerFamily bounds peersV4 and peersV6.
	MaxPeersPerFamily = 2000
	// MaxRoutesPerFamily bounds routesV4 and routesV6.
	MaxRoutesPerFamily = 5000
	// MaxIssuesPerSection bounds each section's issues.
	MaxIssuesPerSection = 8
	// MaxPodNameLength bounds reporter.pod (a Pod's name is a DNS subdomain).
	MaxPodNameLength = 253
	// MaxNamespaceLength bounds reporter.namespace (a namespace's name is a DNS label).
	MaxNamespaceLength = 63
	// MaxUIDLength bounds reporter.uid (the API server's UIDs are 36-character UUIDs).
	MaxUIDLength = 64
)

// CalicoNodeStatusSpec says which node reports, what it reports and how often.
type CalicoNodeStatusSpec struct {
	// Node is the name of the node whose agent collects this status.
	// +required
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	Node string `json:"node"`

	// Classes lists the kinds of information to report: Agent, BGP, Routes; each at most once.
	// +required
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=3
	Classes []NodeStatusClassType `json:"classes"`

	// UpdatePeriodSeconds is the period at which the status is refreshed; 0 disables refresh.
	// +required
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=86400
	UpdatePeriodSeconds *int32 `json:"updatePeriodSeconds"`
}

// CalicoNodeStatusStatus is what the agent on spec.node last collected.
type CalicoNodeStatusStatus struct {
	// LastUpdated is when the status last changed (RFC 3339, UTC), as with Calico's own reporter. It is not
	// a sign of life: how a reader knows the status is current is in reporter. Only an agent that runs
	// outside a Pod also advances it at least every reporter.heartbeatSeconds when nothing changed.
	// Nullable as in Calico's own CRD, whose clients send null for a status never written.
	// +optional
	// +nullable
	LastUpdated metav1.Time `json:"lastUpdated,omitempty"`

	// Agent is the BGP daemon status, present when the Agent class is requested.
	// +optional
	Agent *CalicoNodeAgentStatus `json:"agent,omitempty"`

	// BGP is the BGP session status, present when the BGP class is requested.
	// +optional
	BGP *CalicoNodeBGPStatus `json:"bgp,omitempty"`

	// Routes is the route status, present when the Routes class is requested.
	// +optional
	Routes *CalicoNodeBGPRouteStatus `json:"routes,omitempty"`

	// ObservedGeneration is the metadata.generation of the spec this status was collected for.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Reporter names the agent that writes this status, so a reader can tell whether it is current without
	// a periodic write: while the agent's Pod is Ready (readiness: it writes the statuses it owns), the
	// status is current however old lastUpdated is. It changes only when the agent is replaced.
	// +optional
	Reporter *StatusReporter `json:"reporter,omitempty"`

	// Conditions: Ready says whether the last collection was complete, with a reason when it was not.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// StatusReporter is the agent that writes a status and the freshness signal a reader uses: its Pod's
// Ready condition when pod is set, otherwise lastUpdated advanced every heartbeatSeconds.
type StatusReporter struct {
	// Pod is the name of the agent's Pod; empty when the agent runs outside a Pod.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Pod string `json:"pod,omitempty"`
	// Namespace is the namespace of the agent's Pod.
	// +optional
	// +kubebuilder:validation:MaxLength=63
	Namespace string `json:"namespace,omitempty"`
	// UID is the UID of the agent's Pod: a Pod of the same name with another UID is a replacement that has
	// not written this status yet.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	UID string `json:"uid,omitempty"`
	// HeartbeatSeconds, when above 0, is the longest the agent leaves lastUpdated unchanged while refresh
	// is enabled (it rewrites an unchanged status after max(updatePeriodSeconds, heartbeatSeconds)); 0: no
	// heartbeat, lastUpdated moves only when the status changes.
	// +optional
	// +kubebuilder:validation:Minimum=0
	HeartbeatSeconds int32 `json:"heartbeatSeconds,omitempty"`
}

// CalicoNodeAgentStatus holds the BGP daemon status per address family.
type CalicoNodeAgentStatus struct {
	// BIRDV4 is the IPv4 BIRD daemon (bird.ctl; with BIRD 2 the one daemon serving both families).
	// +optional
	BIRDV4 *BGPDaemonStatus `json:"birdV4,omitempty"`
	// BIRDV6 is the IPv6 BIRD daemon (bird6.ctl; with BIRD 2 the one daemon serving both families).
	// +optional
	BIRDV6 *BGPDaemonStatus `json:"birdV6,omitempty"`
	// Issues explains what of this section could not be collected.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	Issues []StatusIssue `json:"issues,omitempty"`
}

// BGPDaemonStatus is the state of one BGP daemon.
type BGPDaemonStatus struct {
	// State is Ready when the daemon reports itself up and running.
	// +optional
	State BGPDaemonState `json:"state,omitempty"`
	// Version is the daemon's version string.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Version string `json:"version,omitempty"`
	// RouterID is the router ID the daemon uses.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	RouterID string `json:"routerID,omitempty"`
	// LastBootTime is when the daemon started, as the daemon prints it.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	LastBootTime string `json:"lastBootTime,omitempty"`
	// LastReconfigurationTime is when the daemon last reloaded its configuration, as the daemon prints it.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	LastReconfigurationTime string `json:"lastReconfigurationTime,omitempty"`
}

// CalicoNodeBGPStatus holds the BGP sessions of the node.
type CalicoNodeBGPStatus struct {
	// NumberEstablishedV4 is the number of IPv4 sessions in state Established.
	NumberEstablishedV4 int `json:"numberEstablishedV4"`
	// NumberNotEstablishedV4 is the number of IPv4 sessions in any other state.
	NumberNotEstablishedV4 int `json:"numberNotEstablishedV4"`
	// NumberEstablishedV6 is the number of IPv6 sessions in state Established.
	NumberEstablishedV6 int `json:"numberEstablishedV6"`
	// NumberNotEstablishedV6 is the number of IPv6 sessions in any other state.
	NumberNotEstablishedV6 int `json:"numberNotEstablishedV6"`
	// PeersV4 are the IPv4 peers, sorted by peer IP.
	// +optional
	// +kubebuilder:validation:MaxItems=2000
	PeersV4 []CalicoNodePeer `json:"peersV4,omitempty"`
	// PeersV6 are the IPv6 peers, sorted by peer IP.
	// +optional
	// +kubebuilder:validation:MaxItems=2000
	PeersV6 []CalicoNodePeer `json:"peersV6,omitempty"`
	// PeersTruncated is true when a peer list was cut to the agent's per-family cap; the counts above
	// still count every session.
	// +optional
	PeersTruncated bool `json:"peersTruncated,omitempty"`
	// Issues explains what of this section could not be collected.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	Issues []StatusIssue `json:"issues,omitempty"`
}

// CalicoNodePeer is one BGP session.
type CalicoNodePeer struct {
	// PeerIP is the peer's address, without zone or port.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	PeerIP string `json:"peerIP,omitempty"`
	// Type says how the peer was configured.
	// +optional
	Type BGPPeerType `json:"type,omitempty"`
	// State is the BGP session state; empty means unknown.
	// +optional
	State BGPSessionState `json:"state,omitempty"`
	// Since is when the session last changed state, as the daemon prints it.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Since string `json:"since,omitempty"`

	// Protocol is the BIRD protocol name of this session (for example Mesh_10_0_0_2).
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Protocol string `json:"protocol,omitempty"`
	// Info is BIRD's own word on the session: the down reason or last error when it is not Established.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Info string `json:"info,omitempty"`
	// Zone is the interface of an IPv6 link-local peer address.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Zone string `json:"zone,omitempty"`
	// NeighborAS is the peer's AS number.
	// +optional
	NeighborAS int64 `json:"neighborAS,omitempty"`
	// HoldTimeSeconds is the negotiated hold time.
	// +optional
	HoldTimeSeconds int32 `json:"holdTimeSeconds,omitempty"`
	// RoutesImported is the number of routes imported from this peer.
	// +optional
	RoutesImported int64 `json:"routesImported,omitempty"`
	// RoutesExported is the number of routes exported to this peer.
	// +optional
	RoutesExported int64 `json:"routesExported,omitempty"`

	// FlapCount is how many times the session left Established as the node's agent saw it: Established at one
	// collection and in another state at the next, or Established at both with a later since (it went down
	// and came back in between). Counted since the agent started, continuing from this status's count when
	// the agent restarts (the history lives in the status; a peer that leaves BIRD's configuration starts
	// again from 0). Absent when 0. It changes only with a flap, so it never causes a write of its own.
	// +optional
	// +kubebuilder:validation:Minimum=0
	FlapCount int32 `json:"flapCount,omitempty"`
	// LastEstablished is when the session was last Established, for a session that is not Established now
	// and that the agent saw Established: when BIRD says the session left Established (its since), or the
	// agent's collection time when BIRD's time cannot be read. Absent while Established (since says since
	// when) and for a session never seen Established.
	// +optional
	// +nullable
	LastEstablished *metav1.Time `json:"lastEstablished,omitempty"`
}

// CalicoNodeBGPRouteStatus holds the routes the BGP daemon knows.
type CalicoNodeBGPRouteStatus struct {
	// RoutesV4 are the IPv4 routes, sorted by destination; FIB before RIB for one destination.
	// +optional
	// +kubebuilder:validation:MaxItems=5000
	RoutesV4 []CalicoNodeRoute `json:"routesV4,omitempty"`
	// RoutesV6 are the IPv6 routes, sorted likewise.
	// +optional
	// +kubebuilder:validation:MaxItems=5000
	RoutesV6 []CalicoNodeRoute `json:"routesV6,omitempty"`
	// TotalV4 is the number of IPv4 routes the daemon holds; more than len(routesV4) when truncated.
	// +optional
	TotalV4 int `json:"totalV4,omitempty"`
	// TotalV6 is the number of IPv6 routes the daemon holds; more than len(routesV6) when truncated.
	// +optional
	TotalV6 int `json:"totalV6,omitempty"`
	// Truncated is true when a route list was cut to the agent's per-family cap.
	// +optional
	Truncated bool `json:"truncated,omitempty"`
	// Issues explains what of this section could not be collected.
	// +optional
	// +kubebuilder:validation:MaxItems=8
	Issues []StatusIssue `json:"issues,omitempty"`
}

// CalicoNodeRoute is one route.
type CalicoNodeRoute struct {
	// Type is FIB for the route used for forwarding, RIB for the others.
	// +optional
	Type CalicoNodeRouteType `json:"type,omitempty"`
	// Destination is the route's prefix.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Destination string `json:"destination,omitempty"`
	// Gateway is the next hop's address, or N/A when the route has none.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Gateway string `json:"gateway,omitempty"`
	// Interface is the outgoing interface, or blackhole / unreachable / prohibit for such routes.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Interface string `json:"interface,omitempty"`
	// LearnedFrom says where the route came from.
	// +optional
	LearnedFrom CalicoNodeRouteLearnedFrom `json:"learnedFrom,omitempty"`
	// NextHops lists every next hop of a multipath route (the first one is also in gateway/interface).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	NextHops []CalicoNodeRouteNextHop `json:"nextHops,omitempty"`
}

// CalicoNodeRouteNextHop is one next hop of a multipath route.
type CalicoNodeRouteNextHop struct {
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Gateway string `json:"gateway,omitempty"`
	// +optional
	// +kubebuilder:validation:MaxLength=64
	Interface string `json:"interface,omitempty"`
	// +optional
	Weight int32 `json:"weight,omitempty"`
}

// CalicoNodeRouteLearnedFrom says where a route came from.
type CalicoNodeRouteLearnedFrom struct {
	// SourceType is the kind of source.
	// +optional
	SourceType CalicoNodeRouteSourceType `json:"sourceType,omitempty"`
	// PeerIP is, for NodeMesh and BGPPeer, the router that sent the route.
	// +optional
	// +kubebuilder:validation:MaxLength=64
	PeerIP string `json:"peerIP,omitempty"`
}

// StatusIssue says why part of a section is missing or incomplete, so one failure degrades one
// section of one family instead of the whole report.
type StatusIssue struct {
	// Family is the address family concerned; empty for both.
	// +optional
	Family IPFamily `json:"family,omitempty"`
	// Reason is a CamelCase word such as DaemonUnreachable or PartialParse.
	// +kubebuilder:validation:MaxLength=64
	Reason string `json:"reason"`
	// Message says what failed, in words.
	// +optional
	// +kubebuilder:validation:MaxLength=1024
	Message string `json:"message,omitempty"`
}

// CalicoNodeStatus asks the agent on spec.node to report its BGP daemon, sessions and routes in status.
//
// +genclient
// +genclient:nonNamespaced
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,path=caliconodestatuses,singular=caliconodestatus,shortName=cns,categories=calico
// +kubebuilder:subresource:status
// +kubebuilder:selectablefield:JSONPath=`.spec.node`
// +kubebuilder:printcolumn:name="Node",type=string,JSONPath=`.spec.node`
// +kubebuilder:printcolumn:name="Classes",type=string,JSONPath=`.spec.classes`
// +kubebuilder:printcolumn:name="Interval",type=integer,JSONPath=`.spec.updatePeriodSeconds`
// +kubebuilder:printcolumn:name="Changed",type=date,JSONPath=`.status.lastUpdated`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="BIRD v4",type=string,JSONPath=`.status.agent.birdV4.state`,priority=1
// +kubebuilder:printcolumn:name="BIRD v6",type=string,JSONPath=`.status.agent.birdV6.state`,priority=1
// +kubebuilder:printcolumn:name="Est v4",type=integer,JSONPath=`.status.bgp.numberEstablishedV4`,priority=1
// +kubebuilder:printcolumn:name="Est v6",type=integer,JSONPath=`.status.bgp.numberEstablishedV6`,priority=1
// +kubebuilder:printcolumn:name="Routes v4",type=integer,JSONPath=`.status.routes.totalV4`,priority=1
// +kubebuilder:printcolumn:name="Routes v6",type=integer,JSONPath=`.status.routes.totalV6`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`,priority=1
// +kubebuilder:printcolumn:name="Reporter",type=string,JSONPath=`.status.reporter.pod`,priority=1
type CalicoNodeStatus struct {
	metav1.TypeMeta `json:",inline"`
	// Required, as in Calico's own CRD (the API server always sets it).
	// +required
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec CalicoNodeStatusSpec `json:"spec"`
	// +optional
	Status CalicoNodeStatusStatus `json:"status,omitempty"`
}

// CalicoNodeStatusList is a list of CalicoNodeStatus.
//
// +kubebuilder:object:root=true
type CalicoNodeStatusList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []CalicoNodeStatus `json:"items"`
}
