package v3

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of every type in this package.
	GroupVersion = schema.GroupVersion{Group: "projectcalico.org", Version: "v3"}

	// SchemeGroupVersion is GroupVersion under the name the generated clientset and listers
	// (pkg/generated, k8s.io/code-generator) expect.
	SchemeGroupVersion = GroupVersion

	// SchemeBuilder registers this package's types with a runtime.Scheme. It is apimachinery's, not
	// controller-runtime's, so that the agent, which imports this package, does not link controller-runtime.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds this package's types to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, &CalicoNodeStatus{}, &CalicoNodeStatusList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}

// Resource returns the group-qualified resource of a resource name of this package, such as
// "caliconodestatuses" (the generated listers name it in NotFound errors).
func Resource(resource string) schema.GroupResource {
	return GroupVersion.WithResource(resource).GroupResource()
}
