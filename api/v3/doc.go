// Package v3 holds the CalicoNodeStatus API (group projectcalico.org, version v3): the Go types and their
// kubebuilder markers are the single source of the CRD schema; the CRD YAML under config/crd and
// zz_generated.deepcopy.go are generated from them by controller-gen (make generate).
//
// +kubebuilder:object:generate=true
// +groupName=projectcalico.org
package v3
