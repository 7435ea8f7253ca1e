// Package helm tests charts/calico-node-status with the pinned helm (hack/helm): with default values it
// renders the same objects as config/, every value does what it says, and a real API server accepts and
// installs it (API tier).
package helm
