package status

import (
	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/bird"
)

func buildAgent(s *bird.Snapshot) *v3.CalicoNodeAgentStatus {
	out := &v3.CalicoNodeAgentStatus{}
	for i, d := range families(s) {
		fam := apiFamily(i)
		st := daemonStatus(d)
		if i == 0 {
			out.BIRDV4 = st
		} else {
			out.BIRDV6 = st
		}
		if d.StatusErr != nil && !notCollected(d.StatusErr) {
			out.Issues = append(out.Issues, errorIssue(fam, bird.CmdStatus, "", d.StatusErr))
		}
		if is, ok := warningsIssue(fam, d.Warnings, warnAgent); ok {
			out.Issues = append(out.Issues, is)
		}
	}
	out.Issues = capIssues(out.Issues)
	return out
}

// daemonStatus maps one daemon's `show status`. A family nobody collected (no status and no error, or
// bird.ErrNoSocket: the agent was not configured for it) is nil rather than a made-up NotReady.
func daemonStatus(d *bird.DaemonSnapshot) *v3.BGPDaemonStatus {
	if d.Status == nil {
		if d.StatusErr == nil || notCollected(d.StatusErr) {
			return nil
		}
		return &v3.BGPDaemonStatus{State: v3.BGPDaemonStateNotReady}
	}
	st := &v3.BGPDaemonStatus{
		State:                   v3.BGPDaemonStateNotReady,
		Version:                 clampShort(d.Status.Version),
		RouterID:                clampShort(d.Status.RouterID),
		LastBootTime:            clampShort(d.Status.BootTime),
		LastReconfigurationTime: clampShort(d.Status.LastReconfiguration),
	}
	// A status with an error beside it is a partial reply: do not call the daemon Ready on half an answer.
	if d.Status.Up && d.StatusErr == nil {
		st.State = v3.BGPDaemonStateReady
	}
	return st
}
