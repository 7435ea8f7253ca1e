package node_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/testbird/lab"
	"github.com/calico-node-status/calico-node-status/internal/testenv"
	"github.com/calico-node-status/calico-node-status/internal/testimage"
)

func runtimeConvert(m map[string]any, into any) error {
	return runtime.DefaultUnstructuredConverter.FromUnstructured(m, into)
}

func toUnstructured(obj any) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	// Drop what the converter fills in that an applied manifest never has.
	unstructured.RemoveNestedField(m, "status")
	unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
	return m, nil
}

// rollingUpdate moves the DaemonSet to img while the spec of obj changes every second (same classes, another
// order: a new generation each time), and measures for each change how long the status took to show it
// (observedGeneration). No change may wait longer than a period, also while no agent runs on the node
// (old pod stopped, new one starting); the status stays Ready and complete throughout.
func rollingUpdate(t *testing.T, c *cluster, admin kubernetes.Interface, old *corev1.Pod, obj *v3.CalicoNodeStatus, img *testimage.Built, labNode lab.Node) {
	env := c.env
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	type change struct {
		gen       int64
		at        time.Time
		reflected time.Time
	}
	var mu sync.Mutex
	var changes []*change
	var problems []string
	var oldGone, newStarted time.Time
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// The spec changes every second.
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			var cur v3.CalicoNodeStatus
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &cur); err != nil {
				continue
			}
			slices.Reverse(cur.Spec.Classes)
			if err := env.Client.Update(ctx, &cur); err != nil {
				continue // a conflict with the agent's status write: next second
			}
			mu.Lock()
			changes = append(changes, &change{gen: cur.Generation, at: time.Now()})
			mu.Unlock()
		}
	})
	// The status is read every 100 ms: which generation it shows, whether it is Ready and complete.
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			var got v3.CalicoNodeStatus
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &got); err != nil {
				continue
			}
			now := time.Now()
			mu.Lock()
			for _, ch := range changes {
				if ch.reflected.IsZero() && got.Status.ObservedGeneration >= ch.gen {
					ch.reflected = now
				}
			}
			if !ready(&got) || got.Status.Agent == nil || got.Status.BGP == nil || got.Status.Routes == nil {
				problems = append(problems, fmt.Sprintf("%s: Ready=%v, agent/bgp/routes present %v/%v/%v", now.Format(time.TimeOnly),
					ready(&got), got.Status.Agent != nil, got.Status.BGP != nil, got.Status.Routes != nil))
			}
			mu.Unlock()
		}
	})
	// The pods: when the old one is gone and the new one's agent started.
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			pods, err := admin.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{})
			if err != nil {
				continue
			}
			mu.Lock()
			oldThere := false
			for _, p := range pods.Items {
				if p.UID == old.UID {
					oldThere = true
				} else if newStarted.IsZero() && len(p.Status.ContainerStatuses) > 0 && p.Status.ContainerStatuses[0].State.Running != nil {
					newStarted = time.Now()
				}
			}
			if !oldThere && oldGone.IsZero() {
				oldGone = time.Now()
			}
			mu.Unlock()
		}
	})

	time.Sleep(3 * time.Second) // a few changes with the old agent, as a baseline
	patched := time.Now()
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"agent","image":%q}]}}}}`, img.Reference)
	if _, err := admin.AppsV1().DaemonSets(namespace).Patch(ctx, dsName, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("update the DaemonSet's image: %v", err)
	}
	pod := waitPodReady(t, admin, img.Reference, old.UID, 2*time.Minute, c)
	time.Sleep(3 * time.Second) // a few changes with the new agent
	close(stop)
	wg.Wait()

	if cs := pod.Status.ContainerStatuses[0]; cs.ImageID == old.Status.ContainerStatuses[0].ImageID {
		t.Errorf("the new pod runs image %s, the old one's", cs.ImageID)
	}
	var worst time.Duration
	var during int
	for _, ch := range changes {
		if ch.reflected.IsZero() {
			t.Errorf("the change to generation %d (%s) never showed in the status", ch.gen, ch.at.Format(time.TimeOnly))
			continue
		}
		worst = max(worst, ch.reflected.Sub(ch.at))
		if !oldGone.IsZero() && !newStarted.IsZero() && ch.at.After(oldGone.Add(-time.Second)) && ch.at.Before(newStarted) {
			during++
		}
	}
	t.Logf("rolling update: patched at +0s, old pod gone at +%s, new agent running at +%s; %d spec changes (%d while no agent ran), slowest shown after %s (period %ds)",
		oldGone.Sub(patched).Round(100*time.Millisecond), newStarted.Sub(patched).Round(100*time.Millisecond), len(changes), during, worst.Round(100*time.Millisecond), period)
	if len(changes) < 5 || oldGone.IsZero() || newStarted.IsZero() {
		t.Fatalf("the measurement saw %d changes, old pod gone %v, new agent started %v: nothing to judge", len(changes), !oldGone.IsZero(), !newStarted.IsZero())
	}
	if worst > period*time.Second {
		t.Errorf("during the rolling update a spec change waited %s to show in the status, more than the period (%ds)", worst.Round(100*time.Millisecond), period)
	}
	if len(problems) > 0 {
		t.Errorf("during the rolling update the status was not Ready and complete %d times, first: %s", len(problems), problems[0])
	}
	var got v3.CalicoNodeStatus
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(obj), &got); err != nil {
		t.Fatal(err)
	}
	testenv.CheckLabNodeStatus(t, &got, labNode.IP4)
	if rep := got.Status.Reporter; rep == nil || rep.Pod != pod.Name || rep.UID != string(pod.UID) {
		t.Errorf("after the rolling update status.reporter = %+v, want the new Pod %s (%s)", rep, pod.Name, pod.UID)
	}
}
