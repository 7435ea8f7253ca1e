package deploy_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
)

// identity is who a client acts as, by impersonation from the admin configuration: the API server then
// authorizes and admits each request exactly as for that user, groups and extra (a real service-account
// token bound to a Pod on node N authenticates as agentUser, these groups and extra node-name [N]).
type identity struct {
	user   string
	groups []string
	node   string // authentication.kubernetes.io/node-name; none when empty
}

func agentOn(node string) identity {
	return identity{user: agentUser, groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace}, node: node}
}

func (id identity) config(env *testenv.Env) *rest.Config {
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: id.user, Groups: id.groups}
	if id.node != "" {
		cfg.Impersonate.Extra = map[string][]string{nodeNameExtra: {id.node}}
	}
	return cfg
}

func (id identity) client(t *testing.T, env *testenv.Env) client.WithWatch {
	t.Helper()
	c, err := client.NewWithWatch(id.config(env), client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatalf("client as %s: %v", id.user, err)
	}
	return c
}

func period(s int32) *int32 { return &s }

// createCNS creates a CalicoNodeStatus as admin and deletes it when the test ends.
func createCNS(t *testing.T, env *testenv.Env, name, node string, seconds int32) *v3.CalicoNodeStatus {
	t.Helper()
	obj := &v3.CalicoNodeStatus{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v3.CalicoNodeStatusSpec{
			Node:                node,
			Classes:             []v3.NodeStatusClassType{v3.NodeStatusClassTypeAgent, v3.NodeStatusClassTypeBGP, v3.NodeStatusClassTypeRoutes},
			UpdatePeriodSeconds: period(seconds),
		},
	}
	ctx := ctxFor(t, 30*time.Second)
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatalf("create CalicoNodeStatus %s as admin: %v", name, err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), obj) })
	return obj
}

// putStatus sets status.lastUpdated with a PUT of the status subresource after a GET, as the agent
// writes (its role has get and status update, no patch).
func putStatus(ctx context.Context, c client.Client, name string, at time.Time) error {
	obj := &v3.CalicoNodeStatus{}
	if err := c.Get(ctx, client.ObjectKey{Name: name}, obj); err != nil {
		return err
	}
	obj.Status.LastUpdated = metav1.NewTime(at)
	return c.Status().Update(ctx, obj)
}
