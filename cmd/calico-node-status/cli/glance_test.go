package cli_test

import (
	"strings"
	"testing"
)

// The cluster-wide views check their flags before they contact an API server.
func TestGlanceArgumentErrorsComeBeforeAnyConnection(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"peers: unknown state", []string{"peers", "--state", "Up"}, `state "Up"`},
		{"peers: unknown type", []string{"peers", "--type", "Mesh"}, `type "Mesh"`},
		{"peers: unknown output", []string{"peers", "-o", "xml"}, `unable to match a printer suitable for the output format "xml"`},
		{"peers: arguments", []string{"peers", "x"}, "unknown command"},
		{"mesh: unknown kind", []string{"mesh", "--kind", "Mesh"}, `--kind "Mesh"`},
		{"mesh: matrix", []string{"mesh", "--matrix", "0"}, `--matrix "0"`},
		{"mesh: wide", []string{"mesh", "-o", "wide"}, "no wide form"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := run(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%v: error %v, want one containing %q", tt.args, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "127.0.0.1:1") {
				t.Errorf("%v: contacted the server before checking its arguments: %v", tt.args, err)
			}
		})
	}
	for _, args := range [][]string{{"peers"}, {"peers", "-o", "wide", "--state", "notestablished"}, {"peers", "-o", "json"}} {
		if _, err := run(t, "", args...); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("%v: want a connection error naming the server, got %v", args, err)
		}
	}
}
