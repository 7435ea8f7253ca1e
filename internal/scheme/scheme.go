// Package scheme builds the runtime.Scheme every binary and test of this project uses: Kubernetes' built-in
// types plus projectcalico.org/v3.
package scheme

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// New returns a scheme with the Kubernetes built-in types and api/v3.
func New() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("add client-go types to scheme: %w", err)
	}
	if err := v3.AddToScheme(s); err != nil {
		return nil, fmt.Errorf("add projectcalico.org/v3 types to scheme: %w", err)
	}
	return s, nil
}
