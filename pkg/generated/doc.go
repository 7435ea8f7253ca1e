// Package generated holds the typed client of projectcalico.org/v3 CalicoNodeStatus that
// k8s.io/code-generator generates from api/v3 (make generate; never edit the subpackages by hand):
//
//   - clientset/versioned: the clientset (Get, List, Watch, Create, Update, UpdateStatus, Patch, Delete),
//     clientset/versioned/typed/api/v3 the group's client alone, clientset/versioned/fake for unit tests;
//   - listers: reads from an informer's cache;
//   - informers/externalversions: shared informers, filtered with a TweakListOptionsFunc.
//
// It lives under pkg/, not internal/, as in kubernetes/sample-controller and other projects with a CRD:
// api/v3 is public, and tools that read or write CalicoNodeStatus objects (dashboards, operators, tests of
// other projects) can import this client instead of generating their own. The CLI and this project's
// tests use the clientset.
//
// The agent uses only the group's typed client and the lister, with an informer of its own over them
// (internal/agent/store.go): the versioned clientset, and so the generated informers that take it, import
// client-go's discovery client, which links every built-in API group's types; measured, that cost the
// agent 8.8 MiB of resident memory, where its target is 30 MB (docs/benchmarks.md, "Memory"). For the
// same reason no apply configurations are generated (nothing here uses server-side apply).
package generated
