// Package lab drives the real-BIRD lab of lab.sh from Go tests: bring a lab up, read its description
// (/run/<name>/lab.json), tear it down. The lab itself (namespaces, BIRD 1.6 or 2, gobgpd) is lab.sh's; this
// package only runs it and types what it writes, so Go tests and humans use the same lab.
package lab
