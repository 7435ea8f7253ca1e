package v3_test

import (
	"os"
	"path/filepath"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// TestStatusSchemaIsBounded: in the generated CRD every string of the status has a maxLength (or is an
// enum or a date-time) and every list a maxItems, so no status can exceed etcd's limit by one unbounded
// field; the bounds the agent relies on are the constants of this package.
func TestStatusSchemaIsBounded(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "projectcalico.org_caliconodestatuses.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		t.Fatal(err)
	}
	status := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["status"]
	var walk func(path string, s apiextensionsv1.JSONSchemaProps)
	walk = func(path string, s apiextensionsv1.JSONSchemaProps) {
		switch s.Type {
		case "string":
			if s.MaxLength == nil && len(s.Enum) == 0 && s.Format != "date-time" {
				t.Errorf("%s: a string without maxLength", path)
			}
		case "array":
			if s.MaxItems == nil {
				t.Errorf("%s: a list without maxItems", path)
			}
			if s.Items != nil && s.Items.Schema != nil {
				walk(path+"[]", *s.Items.Schema)
			}
		}
		for name, p := range s.Properties {
			walk(path+"."+name, p)
		}
	}
	walk("status", status)

	prop := func(path ...string) apiextensionsv1.JSONSchemaProps {
		s := status
		for _, p := range path {
			if p == "[]" {
				s = *s.Items.Schema
				continue
			}
			s = s.Properties[p]
		}
		return s
	}
	for _, c := range []struct {
		path []string
		got  *int64
		want int
	}{
		{[]string{"bgp", "peersV4"}, prop("bgp", "peersV4").MaxItems, v3.MaxPeersPerFamily},
		{[]string{"bgp", "peersV6"}, prop("bgp", "peersV6").MaxItems, v3.MaxPeersPerFamily},
		{[]string{"routes", "routesV4"}, prop("routes", "routesV4").MaxItems, v3.MaxRoutesPerFamily},
		{[]string{"routes", "routesV6"}, prop("routes", "routesV6").MaxItems, v3.MaxRoutesPerFamily},
		{[]string{"bgp", "issues"}, prop("bgp", "issues").MaxItems, v3.MaxIssuesPerSection},
		{[]string{"bgp", "peersV4", "[]", "protocol"}, prop("bgp", "peersV4", "[]", "protocol").MaxLength, v3.MaxShortStringLength},
		{[]string{"bgp", "peersV4", "[]", "info"}, prop("bgp", "peersV4", "[]", "info").MaxLength, v3.MaxTextLength},
		{[]string{"routes", "routesV4", "[]", "interface"}, prop("routes", "routesV4", "[]", "interface").MaxLength, v3.MaxShortStringLength},
		{[]string{"agent", "issues", "[]", "message"}, prop("agent", "issues", "[]", "message").MaxLength, v3.MaxTextLength},
		{[]string{"reporter", "pod"}, prop("reporter", "pod").MaxLength, v3.MaxPodNameLength},
		{[]string{"reporter", "namespace"}, prop("reporter", "namespace").MaxLength, v3.MaxNamespaceLength},
		{[]string{"reporter", "uid"}, prop("reporter", "uid").MaxLength, v3.MaxUIDLength},
	} {
		if c.got == nil || *c.got != int64(c.want) {
			t.Errorf("%v: bound %v, want %d (the constant)", c.path, c.got, c.want)
		}
	}
}
