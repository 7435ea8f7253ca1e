package main

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strings"
	"time"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

type family int

const (
	v4 family = iota
	v6
)

func (f family) String() string {
	if f == v6 {
		return "6"
	}
	return "4"
}

// birdClient talks to BIRD the way the original's populators do: a fresh connection per populator call,
// line reading with bufio.Scanner and a read deadline renewed per line.
type birdClient struct {
	sockets map[family]string
	timeout time.Duration
	c       *counters
}

// errSocket is the original's ErrorSocketConnection: the populator then writes an empty or NotReady
// section instead of failing.
type errSocket struct{ err error }

func (e errSocket) Error() string { return "connect to BIRD socket: " + e.err.Error() }

func (b *birdClient) dial(fam family) (net.Conn, error) {
	c, err := net.Dial("unix", b.sockets[fam])
	if err != nil {
		return nil, errSocket{err}
	}
	b.c.Conns.Add(1)
	return c, nil
}

// command sends cmd and calls line for each reply line until the end line: code 0000 (or 0013 for show
// status), as the original's scanners do. The greeting "0001 ..." comes before the first reply.
func (b *birdClient) command(conn net.Conn, cmd, end string, line func(string) error) error {
	b.c.Commands.Add(1)
	if _, err := conn.Write([]byte(cmd + "\n")); err != nil {
		return fmt.Errorf("write %q to BIRD socket: %w", cmd, err)
	}
	sc := bufio.NewScanner(conn)
	for {
		if err := conn.SetReadDeadline(time.Now().Add(b.timeout)); err != nil {
			return fmt.Errorf("set read deadline: %w", err)
		}
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return fmt.Errorf("read reply of %q: %w", cmd, err)
			}
			return fmt.Errorf("read reply of %q: connection closed before the end line", cmd)
		}
		s := sc.Text()
		if strings.HasPrefix(s, end) {
			return nil
		}
		if strings.HasPrefix(s, "0001 ") {
			continue // greeting
		}
		if len(s) > 0 && s[0] >= '8' && s[0] <= '9' && len(s) >= 5 {
			return fmt.Errorf("BIRD refused %q: %s", cmd, s)
		}
		if err := line(s); err != nil {
			return err
		}
	}
}

// text strips the "DDDD-" or " " prefix of a reply line.
func text(s string) string {
	if len(s) >= 5 && s[4] == '-' || len(s) >= 5 && s[4] == ' ' && s[0] != ' ' {
		return s[5:]
	}
	if strings.HasPrefix(s, " ") {
		return s[1:]
	}
	return s
}

func (b *birdClient) populate(fam family, class v3.NodeStatusClassType, st *v3.CalicoNodeStatus) error {
	switch class {
	case v3.NodeStatusClassTypeAgent:
		return b.populateAgent(fam, st)
	case v3.NodeStatusClassTypeBGP:
		return b.populateBGP(fam, st)
	case v3.NodeStatusClassTypeRoutes:
		return b.populateRoutes(fam, st)
	}
	return nil // the original logs and skips unknown classes
}

func (b *birdClient) populateAgent(fam family, st *v3.CalicoNodeStatus) error {
	d := &v3.BGPDaemonStatus{State: v3.BGPDaemonStateNotReady}
	conn, err := b.dial(fam)
	if err == nil {
		defer conn.Close()
		err = b.command(conn, "show status", "0013", func(s string) error {
			t := text(s)
			switch {
			case strings.HasPrefix(t, "BIRD "):
				d.Version = strings.TrimPrefix(t, "BIRD ")
			case strings.HasPrefix(t, "Router ID is "):
				d.RouterID = strings.TrimPrefix(t, "Router ID is ")
			case strings.HasPrefix(t, "Last reboot on "):
				d.LastBootTime = strings.TrimPrefix(t, "Last reboot on ")
			case strings.HasPrefix(t, "Last reconfiguration on "):
				d.LastReconfigurationTime = strings.TrimPrefix(t, "Last reconfiguration on ")
			}
			return nil
		})
		if err == nil {
			d.State = v3.BGPDaemonStateReady
		}
	}
	var sock errSocket
	if err != nil && !errors.As(err, &sock) {
		return err
	}
	if st.Status.Agent == nil {
		st.Status.Agent = &v3.CalicoNodeAgentStatus{}
	}
	if fam == v4 {
		st.Status.Agent.BIRDV4 = d
	} else {
		st.Status.Agent.BIRDV6 = d
	}
	return nil
}

var (
	peerName  = regexp.MustCompile(`^(Global|Node|Mesh)_(.+)$`)
	peerTypes = map[string]v3.BGPPeerType{"Global": v3.BGPPeerTypeGlobalPeer, "Mesh": v3.BGPPeerTypeNodeMesh, "Node": v3.BGPPeerTypeNodePeer}
	bgpStates = map[string]v3.BGPSessionState{
		"Idle": v3.BGPSessionStateIdle, "Connect": v3.BGPSessionStateConnect, "Active": v3.BGPSessionStateActive,
		"OpenSent": v3.BGPSessionStateOpenSent, "OpenConfirm": v3.BGPSessionStateOpenConfirm,
		"Established": v3.BGPSessionStateEstablished, "Close": v3.BGPSessionStateClose,
	}
)

type peer struct{ session, typ, state, since, bgpState, ip string }

func (b *birdClient) populateBGP(fam family, st *v3.CalicoNodeStatus) error {
	conn, err := b.dial(fam)
	if err != nil {
		st.Status.BGP = &v3.CalicoNodeBGPStatus{}
		return nil
	}
	defer conn.Close()
	var peers []*peer
	err = b.command(conn, "show protocols", "0000", func(s string) error {
		cols := strings.Fields(text(s))
		if len(cols) < 6 || cols[1] != "BGP" {
			return nil
		}
		m := peerName.FindStringSubmatch(cols[0])
		if m == nil {
			return nil
		}
		peers = append(peers, &peer{session: cols[0], typ: m[1], state: cols[3], since: cols[4]})
		return nil
	})
	if err != nil {
		return err
	}
	// One request per peer, on the same connection, as the original's bgpPeer.complete.
	for _, p := range peers {
		err := b.command(conn, "show protocols all "+p.session, "0000", func(s string) error {
			t := strings.TrimSpace(text(s))
			if v, ok := strings.CutPrefix(t, "BGP state:"); ok {
				p.bgpState = strings.TrimSpace(v)
			} else if v, ok := strings.CutPrefix(t, "Neighbor address:"); ok {
				p.ip = strings.TrimSpace(v)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	if st.Status.BGP == nil {
		st.Status.BGP = &v3.CalicoNodeBGPStatus{}
	}
	list := []v3.CalicoNodePeer{}
	est, notEst := 0, 0
	for _, p := range peers {
		if p.state == "up" {
			est++
		} else {
			notEst++
		}
		list = append(list, v3.CalicoNodePeer{PeerIP: p.ip, Type: peerTypes[p.typ], State: bgpStates[p.bgpState], Since: p.since})
	}
	if fam == v4 {
		st.Status.BGP.PeersV4, st.Status.BGP.NumberEstablishedV4, st.Status.BGP.NumberNotEstablishedV4 = list, est, notEst
	} else {
		st.Status.BGP.PeersV6, st.Status.BGP.NumberEstablishedV6, st.Status.BGP.NumberNotEstablishedV6 = list, est, notEst
	}
	return nil
}

var (
	viaRoute   = regexp.MustCompile(`^(\S*)\s*via\s(\S*)\s*on\s(.*)\s\[(\S*)\s.*\].*`)
	devRoute   = regexp.MustCompile(`^(\S*)\s*dev\s(.*)\s\[(\S*)\s.*\].*`)
	blackhole  = regexp.MustCompile(`^(\S*)\s*blackhole\s\[(\S*)\s.*\].*`)
	unreachabl = regexp.MustCompile(`^(\S*)\s*unreachable\s\[(\S*)\s.*\].*`)
)

func (b *birdClient) populateRoutes(fam family, st *v3.CalicoNodeStatus) error {
	conn, err := b.dial(fam)
	if err != nil {
		st.Status.Routes = &v3.CalicoNodeBGPRouteStatus{}
		return nil
	}
	defer conn.Close()
	list := []v3.CalicoNodeRoute{}
	prev := ""
	err = b.command(conn, "show route", "0000", func(s string) error {
		t := text(s)
		var dest, gw, iface, from string
		switch {
		case strings.Contains(t, " via "):
			if m := viaRoute.FindStringSubmatch(t); m != nil {
				dest, gw, iface, from = m[1], m[2], m[3], m[4]
			}
		case strings.Contains(t, " dev "):
			if m := devRoute.FindStringSubmatch(t); m != nil {
				dest, gw, iface, from = m[1], "N/A", m[2], m[3]
			}
		case strings.Contains(t, " blackhole "):
			if m := blackhole.FindStringSubmatch(t); m != nil {
				dest, gw, iface, from = m[1], "N/A", "blackhole", m[2]
			}
		case strings.Contains(t, " unreachable "):
			if m := unreachabl.FindStringSubmatch(t); m != nil {
				dest, gw, iface, from = m[1], "N/A", "unreachable", m[2]
			}
		}
		if dest == "" {
			// A line that starts with a prefix but matched no pattern (multipath, prohibited) still names the
			// destination of the continuation lines that follow.
			if f := strings.Fields(t); len(f) > 0 && !strings.HasPrefix(t, " ") && strings.Contains(f[0], "/") {
				prev = f[0]
			}
			dest = prev
		}
		if dest == "" || from == "" {
			return nil // deviation: the original aborts the whole update here
		}
		prev = dest
		r := v3.CalicoNodeRoute{Type: v3.RouteTypeRIB, Destination: dest, Gateway: gw, Interface: iface}
		if strings.Contains(t, "] *") {
			r.Type = v3.RouteTypeFIB
		}
		switch {
		case strings.HasPrefix(from, "kernel"):
			r.LearnedFrom.SourceType = v3.RouteSourceTypeKernel
		case strings.HasPrefix(from, "static"):
			r.LearnedFrom.SourceType = v3.RouteSourceTypeStatic
		case strings.HasPrefix(from, "direct"):
			r.LearnedFrom.SourceType = v3.RouteSourceTypeDirect
		default:
			m := peerName.FindStringSubmatch(from)
			if m == nil {
				return nil
			}
			r.LearnedFrom.SourceType = v3.RouteSourceTypeBGPPeer
			if m[1] == "Mesh" {
				r.LearnedFrom.SourceType = v3.RouteSourceTypeNodeMesh
			}
			// The original un-mangles the protocol name (lossy for custom ports and zones).
			sep := "."
			if fam == v6 {
				sep = ":"
			}
			r.LearnedFrom.PeerIP = strings.ReplaceAll(m[2], "_", sep)
		}
		list = append(list, r)
		return nil
	})
	if err != nil {
		return err
	}
	if st.Status.Routes == nil {
		st.Status.Routes = &v3.CalicoNodeBGPRouteStatus{}
	}
	if fam == v4 {
		st.Status.Routes.RoutesV4 = list
	} else {
		st.Status.Routes.RoutesV6 = list
	}
	return nil
}
