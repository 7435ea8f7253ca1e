package cli

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// TestDrain covers what a real API server rarely does on demand: a watch that expires (410 Gone) must
// lead to a relist, a closed watch to a resume from the last resourceVersion, bookmarks move that
// version without printing, and an unexpected error ends the command with it.
func TestDrain(t *testing.T) {
	obj := func(name, rv string) *v3.CalicoNodeStatus {
		return &v3.CalicoNodeStatus{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv, Generation: 1},
			Spec: v3.CalicoNodeStatusSpec{Node: "n1", Classes: []v3.NodeStatusClassType{v3.NodeStatusClassTypeBGP}, UpdatePeriodSeconds: new(int32)}}
	}
	gone := apierrors.NewResourceExpired("too old resource version: 1 (5)").Status()
	gone.Code = http.StatusGone
	internal := apierrors.NewInternalError(errors.New("etcd exploded")).Status()
	tests := []struct {
		name    string
		events  []watch.Event
		wantRV  string
		wantErr string
		want    []string
		notWant []string
	}{
		{"modified then closed: resume from the last version", []watch.Event{{Type: watch.Modified, Object: obj("a", "7")}}, "7", "", []string{"MODIFIED a", "Name:          a"}, nil},
		{"bookmark: new version, nothing printed", []watch.Event{{Type: watch.Bookmark, Object: obj("", "9")}}, "9", "", nil, []string{"Name:"}},
		{"deleted: a line, no view", []watch.Event{{Type: watch.Deleted, Object: obj("a", "8")}}, "8", "", []string{"DELETED a"}, []string{"Name:"}},
		{"expired: relist", []watch.Event{{Type: watch.Modified, Object: obj("a", "7")}, {Type: watch.Error, Object: &gone}}, "", "", []string{"MODIFIED a"}, nil},
		{"other error: stop with it", []watch.Event{{Type: watch.Error, Object: &internal}}, "3", "etcd exploded", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			o := &getOptions{root: &root{Options: Options{
				Streams: genericiooptions.IOStreams{Out: &out, ErrOut: &out}, DisplayName: Name,
				Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) },
			}}}
			fw := watch.NewFakeWithChanSize(len(tt.events), false)
			for _, ev := range tt.events {
				fw.Action(ev.Type, ev.Object)
			}
			fw.Stop() // closes the channel after the buffered events
			rv, err := o.drain(context.Background(), fw, "3", "")
			if rv != tt.wantRV || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("drain = %q, %v; want %q, error containing %q", rv, err, tt.wantRV, tt.wantErr)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out.String(), w) {
					t.Errorf("output must not contain %q:\n%s", w, out.String())
				}
			}
		})
	}
}
