// Package prereq decides what a test does when a real component it needs (a binary, root, a kernel
// feature) is missing: skip with a message on a developer's machine, fail under CI=true, where a missing
// prerequisite is a broken CI set-up and never a reason to pass.
package prereq
