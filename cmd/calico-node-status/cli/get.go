package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
	"github.com/calico-node-status/calico-node-status/internal/printer"
	typedv3 "github.com/calico-node-status/calico-node-status/pkg/generated/clientset/versioned/typed/api/v3"
)

type getOptions struct {
	*root
	node   string
	output string
	watch  bool
}

func newGetCommand(r *root) *cobra.Command {
	o := &getOptions{root: r}
	cmd := &cobra.Command{
		Use:   "get [NAME] [--node NODE] [-o yaml|json] [--watch]",
		Short: "Show CalicoNodeStatus objects like calicoctl node status",
		Long: `Show one CalicoNodeStatus (NAME), those of one node (--node) or all: the freshness and readiness of
the status, a line per BGP daemon, the IPv4 and IPv6 BGP peers and the routes. A status is marked STALE
when it was collected for an older spec, or when the agent Pod that writes it (status.reporter) is gone
or not Ready; an agent outside a Pod must have written within max(2 x period, its heartbeat) + 30s.
WAITING when the agent has written nothing yet; NOT READY when its Ready condition is False. -o yaml|json prints the objects instead; --watch prints again on every change.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := ""
			if len(args) == 1 {
				name = args[0]
			}
			return o.run(cmd.Context(), name)
		},
	}
	cmd.Flags().StringVar(&o.node, "node", "", "only the objects whose spec.node is NODE")
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "output format: yaml or json (default: the status view)")
	cmd.Flags().BoolVarP(&o.watch, "watch", "w", false, "after printing, watch and print again on every change")
	return cmd
}

func (o *getOptions) run(ctx context.Context, name string) error {
	if name != "" && o.node != "" {
		return errors.New("get: give NAME or --node, not both")
	}
	var format printer.Format
	if o.output != "" {
		f, err := printer.ParseFormat(o.output)
		if err != nil {
			return fmt.Errorf("get: -o: %w", err)
		}
		format = f
	}
	c, err := o.client()
	if err != nil {
		return err
	}
	objs, rv, err := o.fetch(ctx, c, name)
	if err != nil {
		return o.explainAPI(ctx, err)
	}
	if len(objs) == 0 && !o.watch {
		fmt.Fprintln(o.Streams.ErrOut, o.nothingFound())
		return nil
	}
	if err := o.print(objs, name != "", format); err != nil {
		return err
	}
	if !o.watch {
		return nil
	}
	return o.watchLoop(ctx, c, name, rv, format)
}

func (o *getOptions) nothingFound() string {
	if o.node != "" {
		return fmt.Sprintf("No CalicoNodeStatus for node %s. Create one with: %s create NAME --node %s", o.node, o.DisplayName, o.node)
	}
	return fmt.Sprintf("No CalicoNodeStatus found. Create one with: %s create NAME --node NODE", o.DisplayName)
}

// selector narrows lists and watches: to one name, to one node (the CRD makes spec.node selectable), or
// nothing.
func (o *getOptions) selector(name string) fields.Selector {
	switch {
	case name != "":
		return fields.OneTermEqualSelector("metadata.name", name)
	case o.node != "":
		return fields.OneTermEqualSelector("spec.node", o.node)
	}
	return fields.Everything()
}

// fetch returns the objects to show and the resourceVersion to watch from.
func (o *getOptions) fetch(ctx context.Context, c typedv3.CalicoNodeStatusInterface, name string) ([]v3.CalicoNodeStatus, string, error) {
	if name != "" {
		obj, err := c.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return nil, "", apiError(fmt.Sprintf("get CalicoNodeStatus %q", name), err)
		}
		return []v3.CalicoNodeStatus{*obj}, obj.ResourceVersion, nil
	}
	l, err := c.List(ctx, metav1.ListOptions{FieldSelector: o.selector("").String()})
	if err != nil {
		return nil, "", apiError("list CalicoNodeStatus", err)
	}
	return l.Items, l.ResourceVersion, nil
}

func (o *getOptions) print(objs []v3.CalicoNodeStatus, single bool, format printer.Format) error {
	if format == "" {
		return printer.Text(o.Streams.Out, objs, o.Now(), o.agentPods(false))
	}
	return printer.Objects(o.Streams.Out, objs, single, format)
}

// watchLoop prints every change until ctx ends. A watch the server closes is resumed from the last
// resourceVersion seen; one too old to resume (410 Gone) is replaced by a fresh list, printed in full
// because changes may have been missed.
func (o *getOptions) watchLoop(ctx context.Context, c typedv3.CalicoNodeStatusInterface, name, rv string, format printer.Format) error {
	for ctx.Err() == nil {
		w, err := c.Watch(ctx, metav1.ListOptions{
			FieldSelector: o.selector(name).String(), ResourceVersion: rv, AllowWatchBookmarks: true,
		})
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return apiError("watch CalicoNodeStatus", err)
		}
		rv, err = o.drain(ctx, w, rv, format)
		w.Stop()
		if err != nil {
			return err
		}
		if rv == "" { // expired: list again
			objs, newRV, err := o.fetch(ctx, c, name)
			if err != nil {
				if ctx.Err() != nil {
					break
				}
				return err
			}
			o.banner("RELISTED", fmt.Sprintf("%d object(s)", len(objs)), format)
			if err := o.print(objs, name != "", format); err != nil {
				return err
			}
			rv = newRV
		}
	}
	return nil
}

// drain prints the events of one watch and returns the resourceVersion to resume from ("" to relist).
func (o *getOptions) drain(ctx context.Context, w watch.Interface, rv string, format printer.Format) (string, error) {
	for {
		select {
		case <-ctx.Done():
			return rv, nil
		case ev, ok := <-w.ResultChan():
			if !ok {
				return rv, nil
			}
			switch ev.Type {
			case watch.Error:
				st := apierrors.FromObject(ev.Object)
				var se apierrors.APIStatus
				if errors.As(st, &se) && (se.Status().Code == http.StatusGone || apierrors.IsResourceExpired(st)) {
					return "", nil
				}
				return rv, fmt.Errorf("watch CalicoNodeStatus: %w", st)
			case watch.Bookmark:
				if obj, ok := ev.Object.(*v3.CalicoNodeStatus); ok {
					rv = obj.ResourceVersion
				}
			case watch.Added, watch.Modified, watch.Deleted:
				obj, ok := ev.Object.(*v3.CalicoNodeStatus)
				if !ok {
					return rv, fmt.Errorf("watch CalicoNodeStatus: unexpected %T in a %s event", ev.Object, ev.Type)
				}
				rv = obj.ResourceVersion
				o.banner(string(ev.Type), obj.Name, format)
				if ev.Type == watch.Deleted {
					continue
				}
				if err := o.print([]v3.CalicoNodeStatus{*obj}, true, format); err != nil {
					return rv, err
				}
			}
		}
	}
}

// banner separates the views of a watch. For YAML it is a document separator, so the output stays a
// valid YAML stream; JSON objects follow each other without one.
func (o *getOptions) banner(what, name string, format printer.Format) {
	var out io.Writer = o.Streams.Out
	switch format {
	case printer.FormatYAML:
		fmt.Fprintf(out, "---\n# %s %s %s\n", o.Now().UTC().Format(time.RFC3339), what, name)
	case printer.FormatJSON:
	default:
		fmt.Fprintf(out, "\n--- %s %s %s\n", o.Now().UTC().Format(time.RFC3339), what, name)
	}
}
