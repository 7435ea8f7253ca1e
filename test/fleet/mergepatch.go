package fleet

import (
	"encoding/json"
	"fmt"
	"reflect"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// statusMergePatch is the JSON merge patch (RFC 7386) that turns obj's status into desired: only the
// members that changed (an array whole, as merge patches replace arrays; a removed member as null), with
// obj's resourceVersion as the precondition, so a stale obj gets a Conflict as a PUT does.
func statusMergePatch(obj *v3.CalicoNodeStatus, desired v3.CalicoNodeStatusStatus) ([]byte, error) {
	from, err := toJSONValue(obj.Status)
	if err != nil {
		return nil, err
	}
	to, err := toJSONValue(desired)
	if err != nil {
		return nil, err
	}
	diff := mergeDiff(from, to)
	if diff == nil {
		diff = map[string]any{}
	}
	return json.Marshal(map[string]any{
		"metadata": map[string]any{"resourceVersion": obj.ResourceVersion},
		"status":   diff,
	})
}

func toJSONValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode status: %w", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("decode status: %w", err)
	}
	return out, nil
}

// mergeDiff returns the merge patch from a to b (nil: no change), both decoded JSON.
func mergeDiff(a, b any) any {
	am, aok := a.(map[string]any)
	bm, bok := b.(map[string]any)
	if !aok || !bok {
		if reflect.DeepEqual(a, b) {
			return nil
		}
		return b
	}
	out := map[string]any{}
	for k, bv := range bm {
		av, had := am[k]
		if !had {
			out[k] = bv
			continue
		}
		if d := mergeDiff(av, bv); d != nil {
			out[k] = d
		}
	}
	for k := range am {
		if _, has := bm[k]; !has {
			out[k] = nil
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
