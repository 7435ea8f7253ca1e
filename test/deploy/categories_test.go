package deploy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// TestAPIServer_KubectlGetCalicoListsCalicoNodeStatus: the CRD is in the "calico" category, so
// `kubectl get calico` lists our objects beside Calico's own kinds.
func TestAPIServer_KubectlGetCalicoListsCalicoNodeStatus(t *testing.T) {
	env := testenv.Shared(t)
	obj := createCNS(t, env, "category-probe", "node-cat", 10)
	var out string
	testenv.Eventually(t, 30*time.Second, "kubectl get calico to list "+obj.Name, func() (bool, error) {
		var err error
		out, err = env.Kubectl(ctxFor(t, 30*time.Second), "", "get", "calico", "-o", "name")
		return strings.Contains(out, "caliconodestatus.projectcalico.org/"+obj.Name), err
	})
}
