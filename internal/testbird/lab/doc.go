// Package lab drives the real-BIRD lab of test/lab/lab.sh from Go tests: bring a lab up, read its
// description (/run/<name>/lab.json), tear it down, choose the BIRD flavours. The lab itself (namespaces,
// BIRD 1.6 or 2 or Calico's fork, gobgpd) is lab.sh's; this package only runs it and types what it writes,
// so Go tests and humans use the same lab. It lives with internal/testbird, the other real-BIRD test
// support; the shell half (lab.sh, paths.sh, capture.sh, the README) stays in test/lab.
package lab
