package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/status"
)

// KubeEvents records events.k8s.io/v1 Events. It writes the Event's JSON itself instead of linking client-go's
// typed clients and every API group's types for one small object (see KubeStore for why size matters).
// Events of a cluster-scoped object live in the default namespace.
type KubeEvents struct {
	rest     rest.Interface
	instance string
	log      *slog.Logger
	timeout  time.Duration
}

// RBAC: record Events about the objects the agent reports on, in the default namespace (where those of a
// cluster-scoped object live). KubeEvents only creates events.k8s.io/v1 Events (one POST each, no series
// patches, no core/v1 Events), so that is all the role grants.
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create

// NewKubeEvents creates the Event writer; instance identifies this agent (its node).
func NewKubeEvents(cfg *rest.Config, instance string, log *slog.Logger) (*KubeEvents, error) {
	c := rest.CopyConfig(cfg)
	c.APIPath = "/apis"
	c.ContentType = "application/json"
	c.NegotiatedSerializer = serializer.NewCodecFactory(runtime.NewScheme()).WithoutConversion()
	rc, err := rest.UnversionedRESTClientFor(c)
	if err != nil {
		return nil, fmt.Errorf("REST client for events.k8s.io/v1: %w", err)
	}
	return &KubeEvents{rest: rc, instance: instance, log: log, timeout: 10 * time.Second}, nil
}

type eventObjectRef struct {
	APIVersion      string `json:"apiVersion"`
	Kind            string `json:"kind"`
	Name            string `json:"name"`
	UID             string `json:"uid,omitempty"`
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

type eventV1 struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
	EventTime           string         `json:"eventTime"`
	ReportingController string         `json:"reportingController"`
	ReportingInstance   string         `json:"reportingInstance"`
	Action              string         `json:"action"`
	Reason              string         `json:"reason"`
	Regarding           eventObjectRef `json:"regarding"`
	Note                string         `json:"note,omitempty"`
	Type                string         `json:"type"`
}

// Eventf implements EventRecorder. Failures are logged, never returned: an Event is a courtesy.
func (e *KubeEvents) Eventf(regarding runtime.Object, _ runtime.Object, eventtype, reason, action, note string, args ...interface{}) {
	obj, ok := regarding.(*v3.CalicoNodeStatus)
	if !ok {
		return
	}
	ev := eventV1{APIVersion: "events.k8s.io/v1", Kind: "Event", EventTime: time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		ReportingController: "projectcalico.org/" + FieldOwner, ReportingInstance: e.instance, Action: action, Reason: reason,
		Regarding: eventObjectRef{APIVersion: v3.GroupVersion.String(), Kind: "CalicoNodeStatus", Name: obj.Name, UID: string(obj.UID), ResourceVersion: obj.ResourceVersion},
		Note:      status.ClampText(fmt.Sprintf(note, args...), 1024), Type: eventtype}
	// client-go's own naming: the object's name and a unique hex suffix (a generateName may not end in '.').
	ev.Metadata.Name = fmt.Sprintf("%s.%x", obj.Name, time.Now().UnixNano())
	ev.Metadata.Namespace = "default"
	body, err := json.Marshal(ev)
	if err != nil {
		e.log.Error("encode event", "reason", reason, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.timeout)
	defer cancel()
	res := e.rest.Post().AbsPath("/apis/events.k8s.io/v1/namespaces/default/events").
		SetHeader("Content-Type", "application/json").Body(body).Do(ctx)
	if err := res.Error(); err != nil {
		raw, _ := res.Raw()
		e.log.Error("record event", "caliconodestatus", obj.Name, "reason", reason, "err", err, "response", status.ClampText(string(raw), 512))
	}
}
