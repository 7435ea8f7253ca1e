package main

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

func spec(t *testing.T) Spec {
	t.Helper()
	dir := t.TempDir()
	bins := map[string]string{}
	for _, p := range []string{"linux/amd64", "linux/arm64"} {
		f := filepath.Join(dir, strings.ReplaceAll(p, "/", "_"))
		if err := os.WriteFile(f, []byte("binary for "+p), 0o755); err != nil {
			t.Fatal(err)
		}
		bins[p] = f
	}
	return Spec{Name: "example.test/agent", Tag: "v1", Path: "/agent", User: "65532:65532", UserName: "nonroot",
		Expose: []string{"9496/tcp"}, Labels: map[string]string{"org.opencontainers.image.version": "v1"},
		Binaries: bins, Created: time.Unix(1700000000, 0).UTC()}
}

// The same inputs give the same index digest (fixed times, sorted platforms, stable tar headers).
func TestBuildIsReproducible(t *testing.T) {
	s := spec(t)
	a, err := Build(s, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(s, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a.Digest != b.Digest {
		t.Fatalf("two builds: %s and %s", a.Digest, b.Digest)
	}
	s.Labels["org.opencontainers.image.version"] = "v2"
	c, err := Build(s, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if c.Digest == a.Digest {
		t.Fatal("a different label gave the same digest")
	}
}

// Push writes the whole index to a registry (an in-memory one on loopback).
func TestPushWritesTheIndex(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	res, err := Build(spec(t), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	digest, err := Push(res.Layout, host+"/cns/agent:v1", true)
	if err != nil {
		t.Fatal(err)
	}
	if digest != res.Digest {
		t.Errorf("pushed %s, built %s", digest, res.Digest)
	}
	ref, err := name.ParseReference(host+"/cns/agent:v1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := remote.Index(ref)
	if err != nil {
		t.Fatalf("read the pushed index back: %v", err)
	}
	got, err := idx.Digest()
	if err != nil || got.String() != res.Digest {
		t.Fatalf("registry has %v (%v), want %s", got, err, res.Digest)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 2 {
		t.Fatalf("pushed index has %v manifests (%v), want 2", im, err)
	}
}
