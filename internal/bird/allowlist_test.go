package bird

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckCommand(t *testing.T) {
	allowed := []struct{ in, canon string }{
		{"show status", "show status"},
		{"  show   status ", "show status"},
		{"show memory", "show memory"},
		{"show interfaces", "show interfaces"},
		{"show interfaces summary", "show interfaces summary"},
		{"show protocols", "show protocols"},
		{"show protocols all", "show protocols all"},
		{"show protocols all Mesh_10_0_0_2", "show protocols all Mesh_10_0_0_2"},
		{"show protocols Mesh_10_0_0_2", "show protocols Mesh_10_0_0_2"},
		{`show protocols all "Mesh_*"`, `show protocols all "Mesh_*"`},
		{"show route", "show route"},
		{"show route all", "show route all"},
		{"show route primary", "show route primary"},
		{"show route count", "show route count"},
		{"show route table master4", "show route table master4"},
		{"show route all table master6", "show route all table master6"},
		{"show route for 10.0.0.1", "show route for 10.0.0.1"},
		{"show route 10.0.0.0/8", "show route 10.0.0.0/8"},
		{"show route protocol Mesh_10_0_0_2", "show route protocol Mesh_10_0_0_2"},
		{"show route export kernel1", "show route export kernel1"},
		{"show route fd00::/64 all", "show route fd00::/64 all"},
	}
	for _, tt := range allowed {
		got, err := CheckCommand(tt.in)
		if err != nil || got != tt.canon {
			t.Errorf("CheckCommand(%q) = %q, %v; want %q", tt.in, got, err, tt.canon)
		}
	}
	refused := []string{
		"", "show", "configure", "configure soft", "disable Mesh_10_0_0_2", "enable Mesh_10_0_0_2",
		"restart Mesh_10_0_0_2", "reload Mesh_10_0_0_2", "down", "eval 1+1", "debug all all", "dump routes",
		"graceful restart", "birdc", "show status\nconfigure", "show status\rdown", "show status\x00",
		"show status configure", "show route where net ~ 10.0.0.0/8", "show route filter f1",
		"show route table", "show route for", "show route for $(reboot)", "show protocols all a b",
		"show protocols all Mesh;down", `show protocols "a b"`, "show symbols", "show route stats; down",
		"sh ro", "SHOW STATUS", "show interfaces all", "show memory x", "mrtdump", "exit", "quit",
		"show route protocol", "show route table master4;", "show status\u00e9",
	}
	for _, in := range refused {
		_, err := CheckCommand(in)
		var re *RefusedError
		if !errors.As(err, &re) || re.Command != in {
			t.Errorf("CheckCommand(%q) = %v; want a *RefusedError naming it", in, err)
			continue
		}
		if !strings.Contains(err.Error(), "refused") {
			t.Errorf("error %q does not say refused", err)
		}
	}
}
