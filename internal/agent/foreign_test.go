package agent

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

func entry(manager, subresource, fields string, at time.Time) metav1.ManagedFieldsEntry {
	t := metav1.NewTime(at)
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: subresource,
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(fields)}, Time: &t}
}

func TestOtherStatusWriterIsTheLatestOtherManagerOfTheStatusSubresource(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	status := `{"f:status":{"f:lastUpdated":{}}}`
	spec := `{"f:spec":{"f:node":{}}}`
	tests := []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    string // manager; "" for none
	}{
		{"only ours", []metav1.ManagedFieldsEntry{entry(FieldOwner, "status", status, t0)}, ""},
		{"creator of the spec", []metav1.ManagedFieldsEntry{entry("kubectl", "", spec, t0), entry(FieldOwner, "status", status, t0)}, ""},
		// On a CRD without the status subresource a create stores the status its client sent; that is no writer.
		{"creator of an empty status on the main resource", []metav1.ManagedFieldsEntry{entry("kubectl", "", status, t0)}, ""},
		{"calico-node on /status", []metav1.ManagedFieldsEntry{entry(FieldOwner, "status", status, t0), entry(CalicoNodeManager, "status", status, t0)}, CalicoNodeManager},
		{"the latest of two", []metav1.ManagedFieldsEntry{entry("a", "status", status, t0.Add(time.Minute)), entry("b", "status", status, t0)}, "a"},
		{"/status entry without status fields", []metav1.ManagedFieldsEntry{entry("x", "status", `{"f:metadata":{}}`, t0)}, ""},
		{"unreadable fields", []metav1.ManagedFieldsEntry{entry("x", "status", `not json`, t0)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{ManagedFields: tt.entries}}
			w, ok := otherStatusWriter(o)
			if ok != (tt.want != "") || w.manager != tt.want {
				t.Fatalf("otherStatusWriter = %+v, %v; want %q", w, ok, tt.want)
			}
		})
	}
}

func TestOtherWriterChanged(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	status := `{"f:status":{"f:lastUpdated":{}}}`
	none := &v3.CalicoNodeStatus{}
	one := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{entry("x", "status", status, t0)}}}
	later := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{entry("x", "status", status, t0.Add(time.Second))}}}
	ours := &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{entry(FieldOwner, "status", status, t0)}}}
	for _, tt := range []struct {
		name          string
		before, after *v3.CalicoNodeStatus
		want          bool
	}{
		{"appears", none, one, true}, {"wrote again", one, later, true}, {"gone", one, none, true},
		{"same", one, one, false}, {"our own write", none, ours, false},
	} {
		if got := otherWriterChanged(tt.before, tt.after); got != tt.want {
			t.Errorf("%s: otherWriterChanged = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestOtherWriterDescriptionNamesCalicoNode(t *testing.T) {
	w := otherWriter{manager: CalicoNodeManager, operation: "Update", subresource: "status", at: time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)}
	want := `field manager "Go-http-client" (Update of /status at 2026-11-30T10:00:00Z), the name calico-node's own CalicoNodeStatus reporter writes as`
	if got := w.describe(); got != want {
		t.Fatalf("describe = %q\nwant       %q", got, want)
	}
}
