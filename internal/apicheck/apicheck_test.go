package apicheck

// Unit tier: the check against an HTTP server that answers as kube-apiserver did in each case (the answers
// are the ones recorded on the real API server by internal/agent/calico_apiserver_test.go and the CLI's
// tests); the API tier runs the check on the real thing.

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"k8s.io/client-go/rest"
)

const (
	localAPIService  = `{"metadata":{"labels":{"kube-aggregator.kubernetes.io/automanaged":"true"}},"spec":{"group":"projectcalico.org","version":"v3"},"status":{"conditions":[{"type":"Available","status":"True","reason":"Local"}]}}`
	calicoAPIService = `{"metadata":{},"spec":{"service":{"namespace":"calico-apiserver","name":"calico-api"}},"status":{"conditions":[{"type":"Available","status":"False","reason":"ServiceNotFound","message":"service/calico-api in \"calico-apiserver\" is not present"}]}}`
	ourDiscovery     = `{"kind":"APIResourceList","groupVersion":"projectcalico.org/v3","resources":[{"name":"caliconodestatuses","kind":"CalicoNodeStatus"},{"name":"caliconodestatuses/status","kind":"CalicoNodeStatus"}]}`
	calicoDiscovery  = `{"kind":"APIResourceList","groupVersion":"projectcalico.org/v3","resources":[{"name":"caliconodestatuses","kind":"CalicoNodeStatus"}]}`
	ourCRD           = `{"spec":{"versions":[{"name":"v3","served":true,"subresources":{"status":{}},"selectableFields":[{"jsonPath":".spec.node"}]}]}}`
	calicoCRD        = `{"spec":{"versions":[{"name":"v3","served":true,"subresources":{}}]}}`
	unavailable      = `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"the server is currently unable to handle the request","reason":"ServiceUnavailable","code":503}`
)

type answer struct {
	code int
	body string
}

func serve(t *testing.T, answers map[string]answer) rest.Interface {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a, ok := answers[r.URL.Path]
		if !ok {
			a = answer{404, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}`}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.code)
		_, _ = w.Write([]byte(a.body))
	}))
	t.Cleanup(srv.Close)
	c, err := NewClient(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

const (
	pAPIService = "/apis/apiregistration.k8s.io/v1/apiservices/v3.projectcalico.org"
	pDiscovery  = "/apis/projectcalico.org/v3"
	pCRD        = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/caliconodestatuses.projectcalico.org"
	pService    = "/api/v1/namespaces/calico-apiserver/services/calico-api"
)

var forbidden = answer{403, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Forbidden","code":403}`}

func TestCheck(t *testing.T) {
	tests := []struct {
		name    string
		answers map[string]answer
		want    Problem
		says    []string
		warns   bool
	}{
		{"our CRD", map[string]answer{pAPIService: {200, localAPIService}, pDiscovery: {200, ourDiscovery}, pCRD: {200, ourCRD}},
			None, []string{"calico-node-status's CRD"}, false},
		{"our CRD, as the agent (no APIService or CRD reads)", map[string]answer{pAPIService: forbidden, pDiscovery: {200, ourDiscovery}, pCRD: forbidden},
			None, []string{"served with a status subresource"}, false},
		{"our CRD took the group from Calico's API server", map[string]answer{pAPIService: {200, localAPIService}, pDiscovery: {200, ourDiscovery}, pCRD: {200, ourCRD}, pService: {200, `{}`}},
			None, nil, true},
		{"nothing installed", map[string]answer{}, CRDNotInstalled, []string{"not installed", "kubectl apply -k config/"}, false},
		{"Calico's APIService", map[string]answer{pAPIService: {200, calicoAPIService}, pDiscovery: {503, unavailable}, pCRD: {200, ourCRD}},
			ServedByAPIService, []string{"Service calico-apiserver/calico-api", "ServiceNotFound", "kubectl delete apiservice v3.projectcalico.org", "kubectl delete -k config/"}, false},
		{"Calico's APIService, as the agent", map[string]answer{pAPIService: forbidden, pDiscovery: {503, unavailable}, pCRD: forbidden},
			ServedByAPIService, []string{"503", "APIService v3.projectcalico.org"}, false},
		{"Calico's native CRD", map[string]answer{pAPIService: {200, localAPIService}, pDiscovery: {200, calicoDiscovery}, pCRD: {200, calicoCRD}},
			NoStatusSubresource, []string{"no status subresource and no selectable field spec.node", "kubectl replace -f config/crd/bases/projectcalico.org_caliconodestatuses.yaml"}, false},
		{"Calico's native CRD, as the agent", map[string]answer{pAPIService: forbidden, pDiscovery: {200, calicoDiscovery}, pCRD: forbidden},
			NoStatusSubresource, []string{"without a status subresource", "Calico"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Check(context.Background(), serve(t, tt.answers))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Problem != tt.want {
				t.Fatalf("problem %q, want %q: %+v", rep.Problem, tt.want, rep)
			}
			for _, w := range tt.says {
				if !strings.Contains(rep.Message+rep.Seen, w) {
					t.Errorf("report lacks %q: %+v", w, rep)
				}
			}
			if (rep.Warning != "") != tt.warns {
				t.Errorf("warning %q, want one: %v", rep.Warning, tt.warns)
			}
			if rep.Seen == "" {
				t.Error("the report does not say what it saw")
			}
		})
	}
}

func TestCheckFailsWhenTheAPIServerCannotBeAsked(t *testing.T) {
	c, err := NewClient(&rest.Config{Host: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Check(context.Background(), c); err == nil || !strings.Contains(err.Error(), "APIService") {
		t.Fatalf("Check on an unreachable API server: %v", err)
	}
}
