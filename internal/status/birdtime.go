package status

// SameBIRDTime reports whether a and b are one event's time as BIRD printed it in two reads (equal, or in
// the same layout at most BIRD's one-second jitter apart). The agent's flap history uses it to tell a
// session that went down and up between two reads (a later since) from BIRD's jitter.
func SameBIRDTime(a, b string) bool { return sameBIRDTime(a, b) }
