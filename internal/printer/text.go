package printer

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// Text writes the status view of each object, separated by a blank line; pods reads the agent Pods the
// statuses name (see Assess).
func Text(w io.Writer, objs []v3.CalicoNodeStatus, now time.Time, pods Pods) error {
	var buf bytes.Buffer
	for i := range objs {
		if i > 0 {
			buf.WriteString("\n")
		}
		writeObject(&buf, &objs[i], now, pods)
	}
	// Tables end rows in padding when the last cells are empty; nobody wants trailing blanks.
	lines := strings.Split(buf.String(), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	if _, err := io.WriteString(w, strings.Join(lines, "\n")); err != nil {
		return fmt.Errorf("write status view: %w", err)
	}
	return nil
}

const labelWidth = 15 // "Update period: " and the values line up under it

func field(b *bytes.Buffer, label, value string) {
	fmt.Fprintf(b, "%-*s%s\n", labelWidth, label+":", value)
}

func more(b *bytes.Buffer, value string) {
	fmt.Fprintf(b, "%*s%s\n", labelWidth, "", value)
}

func writeObject(b *bytes.Buffer, obj *v3.CalicoNodeStatus, now time.Time, pods Pods) {
	// Assessed before escaping: the Pod is looked up by its real name; every string printed is escaped.
	a := escapedAssessment(Assess(obj, now, pods))
	obj = escaped(obj)
	st := &obj.Status
	field(b, "Name", obj.Name)
	field(b, "Node", obj.Spec.Node)
	classes := make([]string, len(obj.Spec.Classes))
	for i, c := range obj.Spec.Classes {
		classes[i] = string(c)
	}
	field(b, "Classes", strings.Join(classes, ", "))
	switch {
	case obj.Spec.UpdatePeriodSeconds == nil:
		field(b, "Update period", "not set")
	case *obj.Spec.UpdatePeriodSeconds == 0:
		field(b, "Update period", "0 (refresh disabled: the status is a one-off snapshot)")
	default:
		field(b, "Update period", (time.Duration(*obj.Spec.UpdatePeriodSeconds) * time.Second).String())
	}
	switch {
	case st.LastUpdated.IsZero():
		field(b, "Last changed", "never")
	case a.Age < 0:
		field(b, "Last changed", fmt.Sprintf("%s (%s ahead of this clock)", st.LastUpdated.UTC().Format(time.RFC3339), human(a.Age)))
	default:
		field(b, "Last changed", fmt.Sprintf("%s (%s ago)", st.LastUpdated.UTC().Format(time.RFC3339), human(a.Age)))
	}
	if a.Pod != "" {
		field(b, "Agent pod", a.Pod)
	}
	field(b, "Status", a.Verdict())
	if a.Waiting {
		more(b, fmt.Sprintf("no status yet: waiting for the agent on node %s", obj.Spec.Node))
		return
	}
	for _, s := range a.Stale {
		more(b, "stale: "+s)
	}
	for _, s := range a.Unknown {
		more(b, s)
	}
	if a.Snapshot && !st.LastUpdated.IsZero() {
		more(b, fmt.Sprintf("snapshot: refresh is disabled; this is the node as it was %s ago", human(a.Age)))
	}
	switch {
	case a.Ready == "":
		more(b, "ready: the agent reported no Ready condition")
	case a.ReadyReason != "" || a.ReadyMessage != "":
		more(b, "ready: "+joinNonEmpty(": ", a.ReadyReason, a.ReadyMessage))
	}
	if c := meta.FindStatusCondition(st.Conditions, v3.ConditionCountsOnly); c != nil && c.Status == metav1.ConditionTrue {
		more(b, "counts only: "+c.Message)
	}

	requested := map[v3.NodeStatusClassType]bool{}
	for _, c := range obj.Spec.Classes {
		requested[c] = true
	}
	b.WriteString("\n")
	writeAgent(b, st.Agent, requested[v3.NodeStatusClassTypeAgent])
	b.WriteString("\n")
	writeBGP(b, st.BGP, requested[v3.NodeStatusClassTypeBGP])
	b.WriteString("\n")
	writeRoutes(b, st.Routes, requested[v3.NodeStatusClassTypeRoutes])
}

func writeAgent(b *bytes.Buffer, ag *v3.CalicoNodeAgentStatus, requested bool) {
	if ag == nil {
		b.WriteString("BGP daemon: " + absent(requested) + "\n")
		return
	}
	b.WriteString("BIRD v4: " + daemonLine(ag.BIRDV4) + "\n")
	b.WriteString("BIRD v6: " + daemonLine(ag.BIRDV6) + "\n")
	writeIssues(b, ag.Issues)
}

func daemonLine(d *v3.BGPDaemonStatus) string {
	if d == nil {
		return "not reported"
	}
	state := string(d.State)
	if state == "" {
		state = "state unknown"
	}
	parts := []string{state}
	if d.Version != "" {
		parts = append(parts, d.Version)
	}
	if d.RouterID != "" {
		parts = append(parts, "router ID "+d.RouterID)
	}
	if d.LastBootTime != "" {
		parts = append(parts, "up since "+d.LastBootTime)
	}
	if d.LastReconfigurationTime != "" {
		parts = append(parts, "last reconfig "+d.LastReconfigurationTime)
	}
	return strings.Join(parts, ", ")
}

func writeBGP(b *bytes.Buffer, bgp *v3.CalicoNodeBGPStatus, requested bool) {
	if bgp == nil {
		b.WriteString("BGP peers: " + absent(requested) + "\n")
		return
	}
	writePeers(b, "IPv4", bgp.PeersV4, bgp.NumberEstablishedV4, bgp.NumberNotEstablishedV4)
	b.WriteString("\n")
	writePeers(b, "IPv6", bgp.PeersV6, bgp.NumberEstablishedV6, bgp.NumberNotEstablishedV6)
	writeIssues(b, bgp.Issues)
}

func writePeers(b *bytes.Buffer, family string, peers []v3.CalicoNodePeer, est, notEst int) {
	if len(peers) == 0 && est == 0 && notEst == 0 {
		b.WriteString(family + " BGP peers: none\n")
		return
	}
	fmt.Fprintf(b, "%s BGP peers: %d established, %d not established\n", family, est, notEst)
	if len(peers) == 0 {
		return
	}
	if len(peers) < est+notEst {
		fmt.Fprintf(b, "  showing %d of %d sessions (truncated: sessions not established first)\n", len(peers), est+notEst)
	}
	tw := tabwriter.NewWriter(b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  PEER ADDRESS\tPEER TYPE\tSTATE\tSINCE\tINFO")
	for _, p := range peers {
		addr := p.PeerIP
		if p.Zone != "" {
			addr += "%" + p.Zone
		}
		state := string(p.State)
		if state == "" {
			state = "unknown"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", dash(addr), dash(string(p.Type)), state, dash(p.Since), p.Info)
	}
	_ = tw.Flush() // writes to a bytes.Buffer cannot fail
}

func writeRoutes(b *bytes.Buffer, rs *v3.CalicoNodeBGPRouteStatus, requested bool) {
	if rs == nil {
		b.WriteString("Routes: " + absent(requested) + "\n")
		return
	}
	writeRouteTable(b, "IPv4", rs.RoutesV4, rs.TotalV4, rs.Truncated)
	b.WriteString("\n")
	writeRouteTable(b, "IPv6", rs.RoutesV6, rs.TotalV6, rs.Truncated)
	writeIssues(b, rs.Issues)
}

func writeRouteTable(b *bytes.Buffer, family string, routes []v3.CalicoNodeRoute, total int, truncated bool) {
	shown := len(routes)
	switch {
	case shown == 0 && total == 0:
		b.WriteString(family + " routes: none\n")
		return
	case total > shown:
		fmt.Fprintf(b, "%s routes: showing %d of %d (truncated)\n", family, shown, total)
	case truncated && total == 0:
		// An agent that truncated without counting: say so rather than claim the list is complete.
		fmt.Fprintf(b, "%s routes: showing %d (the list may be truncated)\n", family, shown)
	default:
		fmt.Fprintf(b, "%s routes: %d\n", family, shown)
	}
	if shown == 0 {
		return
	}
	tw := tabwriter.NewWriter(b, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tDESTINATION\tGATEWAY\tINTERFACE\tSOURCE\tPEER")
	for _, r := range routes {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", dash(string(r.Type)), dash(r.Destination), dash(r.Gateway), dash(r.Interface),
			dash(string(r.LearnedFrom.SourceType)), r.LearnedFrom.PeerIP)
		for i, nh := range r.NextHops {
			if i == 0 && nh.Gateway == r.Gateway && nh.Interface == r.Interface {
				continue // the first next hop is also in gateway/interface
			}
			weight := ""
			if nh.Weight != 0 {
				weight = "weight " + strconv.Itoa(int(nh.Weight))
			}
			fmt.Fprintf(tw, "  \t+ next hop\t%s\t%s\t%s\t\n", dash(nh.Gateway), dash(nh.Interface), weight)
		}
	}
	_ = tw.Flush()
}

func writeIssues(b *bytes.Buffer, issues []v3.StatusIssue) {
	for _, is := range issues {
		who := "issue"
		if is.Family != "" {
			who = string(is.Family) + " issue"
		}
		fmt.Fprintf(b, "  ! %s: %s\n", who, joinNonEmpty(": ", is.Reason, is.Message))
	}
}

func absent(requested bool) string {
	if requested {
		return "requested but not reported"
	}
	return "not requested"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
