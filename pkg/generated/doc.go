// Package generated holds the typed client of projectcalico.org/v3 CalicoNodeStatus that
// k8s.io/code-generator generates from api/v3 (make generate; never edit the subpackages by hand):
//
//   - clientset/versioned: the clientset (Get, List, Watch, Create, Update, UpdateStatus, Apply, ApplyStatus,
//     Delete) and clientset/versioned/fake for unit tests;
//   - listers: reads from an informer's cache;
//   - informers/externalversions: shared informers, filtered with a TweakListOptionsFunc (the agent watches
//     only its node's objects with the field selector spec.node=<node>);
//   - applyconfiguration: the server-side apply configurations.
//
// It lives under pkg/, not internal/, as in kubernetes/sample-controller and other projects with a CRD:
// api/v3 is public, and tools that read or write CalicoNodeStatus objects (dashboards, operators, tests of
// other projects) can import this client instead of generating their own. The agent, the CLI and this
// project's tests use it.
package generated
