package agent

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	v3 "github.com/calico-node-status/calico-node-status/api/v3"
)

// fakeStore is the Store of the tests that run without an API server. It keeps the objects in an
// indexer (its own, or an informer's so that the watch sees the writes) and writes as the API server's
// status subresource does: only the status is stored, under a new resourceVersion, and a write carrying
// another resourceVersion than the stored one fails with Conflict. It counts attempts and writes (in
// all and per UID) and remembers each UID's last written status, even after the object is gone.
type fakeStore struct {
	indexer cache.Indexer

	mu    sync.Mutex
	tries int
	total int
	rv    int
	per   map[types.UID]int
	last  map[types.UID]v3.CalicoNodeStatusStatus
	// onWrite, when set, is called (under the store's lock) with a copy of each object to write, before
	// any check: an error is what the write returns; it may also change the copy, as the API server's
	// encoding would.
	onWrite func(obj *v3.CalicoNodeStatus) error
	// onCached, when set, is called on every Cached and Fresh; it may panic.
	onCached func(name string)
}

// newFakeStore is a fakeStore over its own indexer holding copies of objs.
func newFakeStore(objs ...*v3.CalicoNodeStatus) *fakeStore {
	idx := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	for _, o := range objs {
		_ = idx.Add(o.DeepCopy())
	}
	return newFakeStoreOver(idx)
}

// newFakeStoreOver is a fakeStore over an informer's indexer.
func newFakeStoreOver(idx cache.Indexer) *fakeStore {
	return &fakeStore{indexer: idx, per: map[types.UID]int{}, last: map[types.UID]v3.CalicoNodeStatusStatus{}}
}

func (s *fakeStore) Cached(name string) (*v3.CalicoNodeStatus, error) {
	if s.onCached != nil {
		s.onCached(name)
	}
	item, ok, err := s.indexer.GetByKey(name)
	if err != nil || !ok {
		return nil, apierrors.NewNotFound(v3.Resource(resource), name)
	}
	return item.(*v3.CalicoNodeStatus).DeepCopy(), nil
}

func (s *fakeStore) List() []*v3.CalicoNodeStatus {
	var out []*v3.CalicoNodeStatus
	for _, it := range s.indexer.List() {
		out = append(out, it.(*v3.CalicoNodeStatus))
	}
	return out
}

func (s *fakeStore) Fresh(_ context.Context, name string) (*v3.CalicoNodeStatus, error) {
	return s.Cached(name)
}

func (s *fakeStore) UpdateStatus(_ context.Context, obj *v3.CalicoNodeStatus) (*v3.CalicoNodeStatus, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	obj = obj.DeepCopy()
	if s.onWrite != nil {
		if err := s.onWrite(obj); err != nil {
			return nil, err
		}
	}
	item, ok, err := s.indexer.GetByKey(obj.Name)
	if err != nil || !ok {
		return nil, apierrors.NewNotFound(v3.Resource(resource), obj.Name)
	}
	stored := item.(*v3.CalicoNodeStatus).DeepCopy()
	if obj.ResourceVersion != stored.ResourceVersion {
		return nil, apierrors.NewConflict(v3.Resource(resource), obj.Name,
			fmt.Errorf("resourceVersion %q, stored %q", obj.ResourceVersion, stored.ResourceVersion))
	}
	s.rv++
	stored.Status = obj.Status
	stored.ResourceVersion = fmt.Sprintf("fake-%d", s.rv)
	if err := s.indexer.Update(stored); err != nil {
		return nil, fmt.Errorf("fake store: update %s: %w", obj.Name, err)
	}
	s.total++
	s.per[stored.UID]++
	s.last[stored.UID] = *stored.Status.DeepCopy()
	return stored.DeepCopy(), nil
}

// get is the stored object named name (nil when there is none).
func (s *fakeStore) get(name string) *v3.CalicoNodeStatus {
	item, ok, _ := s.indexer.GetByKey(name)
	if !ok {
		return nil
	}
	return item.(*v3.CalicoNodeStatus).DeepCopy()
}

// put stores obj as it is (a change of spec made by a user, say), as the watch would then show it.
func (s *fakeStore) put(obj *v3.CalicoNodeStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.indexer.Update(obj.DeepCopy())
}

// writes is how many writes succeeded.
func (s *fakeStore) writes() int { s.mu.Lock(); defer s.mu.Unlock(); return s.total }

// writesOf is how many writes of the object with that UID succeeded.
func (s *fakeStore) writesOf(uid types.UID) int { s.mu.Lock(); defer s.mu.Unlock(); return s.per[uid] }

// attempts is how many writes were tried, failed ones included.
func (s *fakeStore) attempts() int { s.mu.Lock(); defer s.mu.Unlock(); return s.tries }

// lastStatus is the last status written for the object with that UID.
func (s *fakeStore) lastStatus(uid types.UID) (v3.CalicoNodeStatusStatus, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.last[uid]
	return st, ok
}

// setFail makes every write fail with err from now on (nil: succeed again).
func (s *fakeStore) setFail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.onWrite = nil
		return
	}
	s.onWrite = func(*v3.CalicoNodeStatus) error { return err }
}
