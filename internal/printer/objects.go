package printer

import (
	"encoding/json"
	"fmt"
	"io"

	"sigs.k8s.io/yaml"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// Format is an output format of the objects themselves.
type Format string

const (
	FormatYAML Format = "yaml"
	FormatJSON Format = "json"
)

// ParseFormat accepts "yaml" and "json".
func ParseFormat(s string) (Format, error) {
	switch Format(s) {
	case FormatYAML, FormatJSON:
		return Format(s), nil
	}
	return "", fmt.Errorf("output format %q: want yaml or json", s)
}

// Objects writes the objects in format f: one object as itself, several (or none) as a
// CalicoNodeStatusList. Like kubectl, it leaves out metadata.managedFields, and it always sets apiVersion
// and kind (typed clients may return objects without them).
func Objects(w io.Writer, objs []v3.CalicoNodeStatus, single bool, f Format) error {
	var v any
	if single && len(objs) == 1 {
		o := clean(objs[0])
		v = &o
	} else {
		l := &v3.CalicoNodeStatusList{Items: make([]v3.CalicoNodeStatus, len(objs))}
		l.APIVersion, l.Kind = v3.GroupVersion.String(), "CalicoNodeStatusList"
		for i := range objs {
			l.Items[i] = clean(objs[i])
		}
		v = l
	}
	var data []byte
	var err error
	switch f {
	case FormatJSON:
		if data, err = json.MarshalIndent(v, "", "    "); err == nil {
			data = append(escapeJSON(data), '\n')
		}
	case FormatYAML:
		escapeForYAML(v)
		data, err = yaml.Marshal(v)
	default:
		return fmt.Errorf("output format %q: want yaml or json", f)
	}
	if err != nil {
		return fmt.Errorf("encode CalicoNodeStatus as %s: %w", f, err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", f, err)
	}
	return nil
}

func clean(o v3.CalicoNodeStatus) v3.CalicoNodeStatus {
	o = *o.DeepCopy()
	o.APIVersion, o.Kind = v3.GroupVersion.String(), "CalicoNodeStatus"
	o.ManagedFields = nil
	return o
}
