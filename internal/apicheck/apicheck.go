// Package apicheck finds out who serves CalicoNodeStatus (projectcalico.org/v3, caliconodestatuses) on a
// cluster, and says in plain words what keeps calico-node-status from working there and what to do.
// The CLI (calico-node-status check, and get/create when the API refuses them) and the agent (at start
// and whenever its watch or a status write fails with 404, 400 or 503) both use it.
//
// What it tells apart (each seen on a real kube-apiserver, see internal/agent/calico_apiserver_test.go):
//   - calico-node-status's CRD serves the resource: nothing wrong.
//   - nothing serves it: the CRD is not installed.
//   - an aggregated API server serves projectcalico.org/v3 (APIService v3.projectcalico.org with a
//     Service: Calico's API server). It takes the whole group version over, so our CRD, although
//     installed and Established, is not served; while that server is missing or down every request
//     answers 503.
//   - the resource is served without a status subresource: Calico's own native v3 CRD (Calico 3.32+)
//     installed instead of ours, or Calico's API server (which has none either).
package apicheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
)

// Problem names what keeps calico-node-status from using the CalicoNodeStatus API; it is also the
// readiness reason and the label of the agent's metric.
type Problem string

const (
	// None: calico-node-status's CRD serves CalicoNodeStatus.
	None Problem = ""
	// CRDNotInstalled: nothing serves caliconodestatuses in projectcalico.org/v3.
	CRDNotInstalled Problem = "CRDNotInstalled"
	// ServedByAPIService: an aggregated API server (an APIService with a Service, such as Calico's API
	// server) serves projectcalico.org/v3 and shadows our CRD.
	ServedByAPIService Problem = "ServedByAPIService"
	// NoStatusSubresource: caliconodestatuses is served without a status subresource, so it is not our CRD
	// (Calico's native v3 CRD, or Calico's API server).
	NoStatusSubresource Problem = "NoStatusSubresource"
)

// Problems lists every Problem but None.
var Problems = []Problem{CRDNotInstalled, ServedByAPIService, NoStatusSubresource}

// Names of the API the check looks at.
const (
	Group          = "projectcalico.org"
	Version        = "v3"
	Resource       = "caliconodestatuses"
	APIServiceName = Version + "." + Group
	CRDName        = Resource + "." + Group
	// NodeField is the selectable field the agent's watch uses.
	NodeField = "spec.node"
)

// Report is the outcome of a check.
type Report struct {
	Problem Problem
	// Message says what is wrong, why, and what to do (empty when Problem is None).
	Message string
	// Seen is what the check saw, in a few words (also when nothing is wrong).
	Seen string
	// Warning, when not empty, says what our CRD does to Calico even though calico-node-status works: the
	// CRD took projectcalico.org/v3 over from an installed Calico API server (see CalicoAPIServerService).
	Warning string
}

// CalicoAPIServerService is the Service of Calico's API server (its manifest and the tigera-operator
// both use it); APIService v3.projectcalico.org points there when Calico's API server serves the group.
const (
	CalicoAPIServerNamespace = "calico-apiserver"
	CalicoAPIServerService   = "calico-api"
)

// OK reports whether nothing is wrong.
func (r Report) OK() bool { return r.Problem == None }

// NewClient returns a REST client for Check (any path, JSON).
func NewClient(cfg *rest.Config) (rest.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath = "/apis"
	c.ContentType = "application/json"
	c.AcceptContentTypes = "application/json"
	c.NegotiatedSerializer = serializer.NewCodecFactory(runtime.NewScheme()).WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("REST client for the API check: %w", err)
	}
	return rc, nil
}

// facts is what the API server told the check.
type facts struct {
	// apiService is nil when the APIService could not be read (absent, or forbidden: the agent may not).
	apiService *apiService
	// discoveryCode is the HTTP status of GET /apis/projectcalico.org/v3 (200, 404, 503, ...).
	discoveryCode int
	discoveryErr  string
	resources     *metav1.APIResourceList
	// crd is nil when it could not be read (absent, or forbidden).
	crd       *crd
	crdAbsent bool
	// calicoService: the Service of Calico's API server exists (false also when it could not be read).
	calicoService bool
}

type apiService struct {
	Metadata struct {
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
	Spec struct {
		Service *struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
		} `json:"service"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Reason  string `json:"reason"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

type crd struct {
	Metadata struct {
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Versions []struct {
			Name         string `json:"name"`
			Served       bool   `json:"served"`
			Subresources *struct {
				Status *struct{} `json:"status"`
			} `json:"subresources"`
			SelectableFields []struct {
				JSONPath string `json:"jsonPath"`
			} `json:"selectableFields"`
		} `json:"versions"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type   string `json:"type"`
			Status string `json:"status"`
		} `json:"conditions"`
	} `json:"status"`
}

// Check asks the API server who serves CalicoNodeStatus. Reading the APIService and the CRD needs
// permissions the agent does not have; without them the check works from discovery alone (open to every
// authenticated client) and says less about the cause. An error means the API server could not be asked
// at all (unreachable, or an answer the check does not understand).
func Check(ctx context.Context, c rest.Interface) (Report, error) {
	var f facts
	raw, err := c.Get().AbsPath("/apis/apiregistration.k8s.io/v1/apiservices", APIServiceName).Do(ctx).Raw()
	switch {
	case err == nil:
		f.apiService = &apiService{}
		if err := json.Unmarshal(raw, f.apiService); err != nil {
			return Report{}, fmt.Errorf("decode APIService %s: %w", APIServiceName, err)
		}
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
	default:
		return Report{}, fmt.Errorf("read APIService %s: %w", APIServiceName, err)
	}

	raw, err = c.Get().AbsPath("/apis", Group, Version).Do(ctx).Raw()
	f.discoveryCode = 200
	if err != nil {
		var se apierrors.APIStatus
		if !errors.As(err, &se) || se.Status().Code == 0 {
			return Report{}, fmt.Errorf("discover %s/%s: %w", Group, Version, err)
		}
		f.discoveryCode = int(se.Status().Code)
		f.discoveryErr = se.Status().Message
	} else {
		f.resources = &metav1.APIResourceList{}
		if err := json.Unmarshal(raw, f.resources); err != nil {
			return Report{}, fmt.Errorf("decode discovery of %s/%s: %w", Group, Version, err)
		}
	}

	raw, err = c.Get().AbsPath("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRDName).Do(ctx).Raw()
	switch {
	case err == nil:
		f.crd = &crd{}
		if err := json.Unmarshal(raw, f.crd); err != nil {
			return Report{}, fmt.Errorf("decode CRD %s: %w", CRDName, err)
		}
	case apierrors.IsNotFound(err):
		f.crdAbsent = true
	case apierrors.IsForbidden(err):
	default:
		return Report{}, fmt.Errorf("read CRD %s: %w", CRDName, err)
	}
	if a := f.apiService; a != nil && a.Spec.Service == nil {
		_, err := c.Get().AbsPath("/api/v1/namespaces", CalicoAPIServerNamespace, "services", CalicoAPIServerService).Do(ctx).Raw()
		f.calicoService = err == nil
	}
	rep := f.explain()
	if rep.OK() && f.calicoService {
		rep.Warning = fmt.Sprintf("Calico's API server is installed (Service %s/%s), but APIService %s is the local one the API server "+
			"made for calico-node-status's CRD: the CRD took projectcalico.org/v3 over, so Calico's API server receives no requests "+
			"and Calico's other projectcalico.org/v3 kinds (IPPool, BGPPeer, ...) are not served. This happens when Calico's APIService "+
			"is applied with kubectl apply after our CRD: the API server's autoregistration reverts it. To give the group back to "+
			"Calico, remove calico-node-status (kubectl delete -k config/) and re-apply Calico's APIService.",
			CalicoAPIServerNamespace, CalicoAPIServerService, APIServiceName)
	}
	return rep, nil
}

const (
	remedyAPIService = "What to do: calico-node-status cannot run beside Calico's API server. Either keep Calico's API server and " +
		"use Calico's own reporter (calico-node fills CalicoNodeStatus itself; remove calico-node-status: kubectl delete -k config/), " +
		"or, if nothing needs Calico's API server (calicoctl and calico-node work on crd.projectcalico.org/v1 without it), remove it: " +
		"kubectl delete apiservice " + APIServiceName + " (then the API server serves our CRD again within seconds)."
	remedyForeign = "What to do: replace it with calico-node-status's CRD, which keeps every field of Calico's and adds the status " +
		"subresource and the selectable field spec.node (kubectl replace -f config/crd/bases/projectcalico.org_caliconodestatuses.yaml), " +
		"or keep Calico's and use Calico's own reporter (calico-node fills CalicoNodeStatus itself; remove calico-node-status: " +
		"kubectl delete -k config/)."
	remedyInstall = "What to do: install it: kubectl apply -k config/ (or kubectl apply -f config/crd/bases/projectcalico.org_caliconodestatuses.yaml)."
)

func (f *facts) explain() Report {
	if a := f.apiService; a != nil && a.Spec.Service != nil {
		avail := "availability unknown"
		for _, c := range a.Status.Conditions {
			if c.Type == "Available" {
				avail = fmt.Sprintf("Available=%s", c.Status)
				if c.Status != "True" {
					avail += fmt.Sprintf(" (%s: %s)", c.Reason, c.Message)
				}
			}
		}
		msg := fmt.Sprintf("%s/%s is served by the aggregated API server behind Service %s/%s (APIService %s, %s), which is "+
			"Calico's API server on a Calico cluster. An APIService takes over the whole group version, so calico-node-status's CRD %s "+
			"is not served even when it is installed; CalicoNodeStatus requests go to that server (503 while it is missing or down; "+
			"when it runs, they reach Calico's own CalicoNodeStatus, which has no status subresource and no field selector %s). ",
			Group, Version, a.Spec.Service.Namespace, a.Spec.Service.Name, APIServiceName, avail, CRDName, NodeField)
		return Report{Problem: ServedByAPIService, Message: msg + remedyAPIService,
			Seen: fmt.Sprintf("APIService %s -> Service %s/%s, %s", APIServiceName, a.Spec.Service.Namespace, a.Spec.Service.Name, avail)}
	}
	if f.discoveryCode == 503 {
		msg := fmt.Sprintf("%s/%s answers 503 (%s): it is served by an aggregated API server that is not available, not by a CRD. "+
			"On a Calico cluster that is Calico's API server (APIService %s), which takes over the whole group version, so "+
			"calico-node-status's CRD %s is not served even when it is installed. ",
			Group, Version, strings.TrimSpace(f.discoveryErr), APIServiceName, CRDName)
		return Report{Problem: ServedByAPIService, Message: msg + remedyAPIService, Seen: fmt.Sprintf("discovery of %s/%s: 503", Group, Version)}
	}
	var res *metav1.APIResource
	hasStatus := false
	if f.resources != nil {
		for i := range f.resources.APIResources {
			switch f.resources.APIResources[i].Name {
			case Resource:
				res = &f.resources.APIResources[i]
			case Resource + "/status":
				hasStatus = true
			}
		}
	}
	if res == nil {
		seen := fmt.Sprintf("discovery of %s/%s: %d", Group, Version, f.discoveryCode)
		if f.discoveryCode == 200 {
			seen = fmt.Sprintf("discovery of %s/%s lists no %s", Group, Version, Resource)
		}
		if f.discoveryCode != 200 && f.discoveryCode != 404 {
			return Report{Problem: CRDNotInstalled, Seen: seen, Message: fmt.Sprintf("%s/%s %s is not served (discovery answers %d: %s). %s",
				Group, Version, Resource, f.discoveryCode, f.discoveryErr, remedyInstall)}
		}
		return Report{Problem: CRDNotInstalled, Seen: seen, Message: fmt.Sprintf("%s/%s %s is not served: calico-node-status's CRD %s is not installed. %s",
			Group, Version, Resource, CRDName, remedyInstall)}
	}
	if c := f.crd; c != nil {
		for _, v := range c.Spec.Versions {
			if v.Name != Version || !v.Served {
				continue
			}
			selectable := false
			for _, s := range v.SelectableFields {
				selectable = selectable || s.JSONPath == "."+NodeField
			}
			if v.Subresources == nil || v.Subresources.Status == nil || !selectable {
				var lacks []string
				if v.Subresources == nil || v.Subresources.Status == nil {
					lacks = append(lacks, "no status subresource")
				}
				if !selectable {
					lacks = append(lacks, "no selectable field "+NodeField)
				}
				msg := fmt.Sprintf("The CRD %s installed is not calico-node-status's: it has %s. Calico 3.32 and later ship a CRD of the "+
					"same name (Calico's native %s/%s API); only one of the two can be installed. With it the agent can neither watch its "+
					"node's objects nor write their status. ", CRDName, strings.Join(lacks, " and "), Group, Version)
				return Report{Problem: NoStatusSubresource, Message: msg + remedyForeign, Seen: "CRD " + CRDName + ": " + strings.Join(lacks, ", ")}
			}
		}
	}
	if !hasStatus {
		msg := fmt.Sprintf("%s/%s %s is served without a status subresource, so not by calico-node-status's CRD: it is Calico's own "+
			"CalicoNodeStatus, from Calico's native CRD of the same name (Calico 3.32 and later) or from Calico's API server. "+
			"The agent can neither watch its node's objects (no field selector %s) nor write their status. ", Group, Version, Resource, NodeField)
		return Report{Problem: NoStatusSubresource, Message: msg + remedyForeign, Seen: "discovery: " + Resource + " without /status"}
	}
	seen := fmt.Sprintf("%s/%s %s served with a status subresource", Group, Version, Resource)
	if f.crd != nil {
		seen = "calico-node-status's CRD " + CRDName + " serves " + Group + "/" + Version + " " + Resource
	}
	return Report{Seen: seen}
}
