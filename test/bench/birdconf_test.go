package main

import (
	"net/netip"
	"strings"
	"testing"
)

// A BIRD 2 lab configuration shape: nested channel blocks, comments with braces, a one-line block.
const labConf2 = `template bgp bgp_template {
  local as 64512;
}
# For peer 10.99.0.253 { nobody }
protocol bgp Node_10_99_0_253 from bgp_template {
  neighbor 10.99.0.253 as 64512;
  ipv4 { gateway recursive; import all; export filter calico_export_to_bgp_peers; add paths on; };
}
protocol bgp Node_10_99_0_252 from bgp_template {
  disabled;
  neighbor 10.99.0.252 as 64512;
  ipv4 {
    import all;
  };
}
protocol bgp Node_10_99_0_2530 from bgp_template { neighbor 10.99.2.53 as 64512; }
protocol bgp Global_10_99_0_254 from bgp_template {
  neighbor 10.99.0.254 as 64513; # the ToR }
}
`

func TestRemoveProtocols(t *testing.T) {
	got, err := removeProtocols(labConf2, []string{"Node_10_99_0_253", "Node_10_99_0_252"})
	if err != nil {
		t.Fatal(err)
	}
	want := `template bgp bgp_template {
  local as 64512;
}
# For peer 10.99.0.253 { nobody }
protocol bgp Node_10_99_0_2530 from bgp_template { neighbor 10.99.2.53 as 64512; }
protocol bgp Global_10_99_0_254 from bgp_template {
  neighbor 10.99.0.254 as 64513; # the ToR }
}
`
	if got != want {
		t.Fatalf("removeProtocols:\n%s\nwant:\n%s", got, want)
	}
	if got, err := removeProtocols(labConf2, []string{"Node_10_99_0_2530"}); err != nil || strings.Contains(got, "10.99.2.53") || !strings.Contains(got, "Node_10_99_0_253 ") {
		t.Fatalf("one-line block: err %v\n%s", err, got)
	}
	if _, err := removeProtocols(labConf2, []string{"Node_10_99_0_9"}); err == nil {
		t.Fatal("a protocol that is not there was not an error")
	}
	if _, err := removeProtocols("protocol bgp X from t {\n  neighbor 1.2.3.4 as 1;\n", []string{"X"}); err == nil {
		t.Fatal("an unclosed block was not an error")
	}
}

func TestDeadPeers(t *testing.T) {
	v4, v6 := deadPeersFor(4, netip.MustParseAddr("10.99.0.2"), netip.MustParseAddr("fd00:99::2"))
	var names []string
	for _, p := range append(v4, v6...) {
		names = append(names, p.name)
	}
	want := "Node_10_99_0_240 Node_10_99_0_2_port_1791 Node_10_99_0_241 Node_10_99_0_2_port_1792 " +
		"Node_fd00_99__f0 Node_fd00_99__2_port_1791 Node_fd00_99__f1 Node_fd00_99__2_port_1792"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("dead peers:\n%s\nwant\n%s", got, want)
	}
	conf1 := deadPeerConf(1, v4[:2], 64512, netip.MustParseAddr("10.99.0.1"))
	for _, s := range []string{"protocol bgp Node_10_99_0_240 from bgp_template {\n  # added by test/bench --retry: a peer nobody answers for\n  neighbor 10.99.0.240 as 64512;\n  source address 10.99.0.1;\n  connect retry time 5;\n}\n",
		"neighbor 10.99.0.2 port 1791 as 64512;"} {
		if !strings.Contains(conf1, s) {
			t.Errorf("BIRD 1.6 configuration lacks %q:\n%s", s, conf1)
		}
	}
	if strings.Contains(conf1, "ipv4 {") {
		t.Errorf("BIRD 1.6 configuration has a BIRD 2 channel:\n%s", conf1)
	}
	conf2 := deadPeerConf(2, v6[:1], 64512, netip.MustParseAddr("fd00:99::1"))
	if !strings.Contains(conf2, "  ipv6 { gateway recursive; import all; export filter calico_export_to_bgp_peers6; add paths on; };\n}\n") {
		t.Errorf("BIRD 2 configuration lacks the IPv6 channel:\n%s", conf2)
	}
	// What was added can be removed again.
	if back, err := removeProtocols(labConf2+conf2, []string{"Node_fd00_99__f0"}); err != nil || back != labConf2 {
		t.Errorf("removing the added peer: err %v\n%s", err, back)
	}
}
