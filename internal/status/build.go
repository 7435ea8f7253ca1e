package status

import (
	"fmt"
	"slices"
	"strings"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

// Reasons used in StatusIssue besides those api/v3 defines.
const (
	// ReasonCollectionFailed: the daemon answered but the reply could not be used (a parse error, a reply
	// cut off, an error code), as opposed to v3.ReasonDaemonUnreachable (no answer at all).
	ReasonCollectionFailed = v3.ReasonCollectionFailed
)

// MaxIssuesPerSection is the CRD's cap on each section's issues list.
const MaxIssuesPerSection = v3.MaxIssuesPerSection

// MaxIssueMessageBytes is the CRD's cap on an issue message.
const MaxIssueMessageBytes = v3.MaxTextLength

// Options tune Build.
type Options struct {
	// MaxRoutesPerFamily caps each route list so the object stays far below etcd's size limit; the
	// section then says Truncated and TotalV4/TotalV6 hold the full counts. 0 means
	// v3.DefaultMaxRoutesPerFamily; a negative value means no cap.
	MaxRoutesPerFamily int
	// MaxRouteBytesPerFamily caps the estimated JSON size of each route list likewise. 0 means
	// v3.DefaultMaxRouteBytesPerFamily; a negative value means no cap.
	MaxRouteBytesPerFamily int
	// MaxPeersPerFamily caps each peer list (sessions not established kept first). 0 means
	// v3.DefaultMaxPeersPerFamily; a negative value means no cap.
	MaxPeersPerFamily int
	// MaxStatusBytes caps the JSON size of all sections together, every list of both families (see
	// fitBudget). 0 means v3.DefaultMaxStatusBytes; a negative value means no cap.
	MaxStatusBytes int
}

func (o Options) maxPeers() int {
	switch {
	case o.MaxPeersPerFamily == 0:
		return v3.DefaultMaxPeersPerFamily
	case o.MaxPeersPerFamily < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxPeersPerFamily
}

func (o Options) maxRoutes() int {
	switch {
	case o.MaxRoutesPerFamily == 0:
		return v3.DefaultMaxRoutesPerFamily
	case o.MaxRoutesPerFamily < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxRoutesPerFamily
}

func (o Options) maxRouteBytes() int {
	switch {
	case o.MaxRouteBytesPerFamily == 0:
		return v3.DefaultMaxRouteBytesPerFamily
	case o.MaxRouteBytesPerFamily < 0:
		return int(^uint(0) >> 1)
	}
	return o.MaxRouteBytesPerFamily
}

// capsText says the caps in force, for the RoutesTruncated message.
func (o Options) capsText() string {
	var parts []string
	if o.MaxRoutesPerFamily >= 0 {
		parts = append(parts, fmt.Sprintf("%d routes", o.maxRoutes()))
	}
	if o.MaxRouteBytesPerFamily >= 0 {
		parts = append(parts, fmt.Sprintf("%d bytes", o.maxRouteBytes()))
	}
	return "cap " + strings.Join(parts, " and ") + " per family"
}

// Sections are the status sections Build computed; a section is non-nil iff its class was requested.
type Sections struct {
	Agent  *v3.CalicoNodeAgentStatus
	BGP    *v3.CalicoNodeBGPStatus
	Routes *v3.CalicoNodeBGPRouteStatus
}

// Build maps one BIRD snapshot to the status sections of the requested classes. It is pure: the same
// snapshot and classes give an equal result, whatever the order of protocols and routes in the snapshot.
func Build(s bird.Snapshot, classes []v3.NodeStatusClassType, opts Options) Sections {
	var out Sections
	if slices.Contains(classes, v3.NodeStatusClassTypeAgent) {
		out.Agent = buildAgent(&s)
	}
	if slices.Contains(classes, v3.NodeStatusClassTypeBGP) {
		out.BGP = buildBGP(&s, opts)
	}
	if slices.Contains(classes, v3.NodeStatusClassTypeRoutes) {
		out.Routes = buildRoutes(&s, opts)
	}
	// How a daemon with an unreadable version was read is said once, in the first section requested.
	if is := dialectIssues(&s); len(is) > 0 {
		switch {
		case out.Agent != nil:
			out.Agent.Issues = capIssues(append(out.Agent.Issues, is...))
		case out.BGP != nil:
			out.BGP.Issues = capIssues(append(out.BGP.Issues, is...))
		case out.Routes != nil:
			out.Routes.Issues = capIssues(append(out.Routes.Issues, is...))
		}
	}
	fitBudget(&out, opts)
	return out
}

// dialectIssues says, per family, in which dialect a daemon whose version could not be read was read
// (bird.DaemonSnapshot.DialectNote). One BIRD 2 daemon read for both families gives one issue without
// a family.
func dialectIssues(s *bird.Snapshot) []v3.StatusIssue {
	v4, v6 := s.V4.DialectNote, s.V6.DialectNote
	if v4 != "" && v4 == v6 && s.V4.Socket == s.V6.Socket {
		return []v3.StatusIssue{{Reason: v3.ReasonVersionUnrecognized, Message: clampMessage(v4)}}
	}
	var out []v3.StatusIssue
	for i, d := range families(s) {
		if d.DialectNote != "" {
			out = append(out, v3.StatusIssue{Family: apiFamily(i), Reason: v3.ReasonVersionUnrecognized, Message: clampMessage(d.DialectNote)})
		}
	}
	return out
}

// families lists the snapshot's two families in the order every section reports them.
func families(s *bird.Snapshot) [2]*bird.DaemonSnapshot {
	return [2]*bird.DaemonSnapshot{&s.V4, &s.V6}
}

// apiFamily is the family of the daemon snapshot at index i of families(); the snapshot's own Family
// field may be left zero by a caller, the position never lies.
func apiFamily(i int) v3.IPFamily {
	if i == 0 {
		return v3.IPFamilyV4
	}
	return v3.IPFamilyV6
}
