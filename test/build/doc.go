// Package build tests the project's set-up scripts themselves (unit tier: no root, no network): what
// happens when two of them run at once.
package build
