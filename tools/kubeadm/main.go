// Command kubeadm is the upstream kubeadm, built from k8s.io/kubernetes at
// the version pinned in this module's go.mod. homelab's tests run it to
// validate the configurations pkg/kubeadm renders (kubeadm config validate,
// kubeadm init phase certs/kubeconfig); it is never shipped or run against
// a real host. Build it with build.sh.
package main

import (
	"k8s.io/kubernetes/cmd/kubeadm/app"
	utilerrors "k8s.io/kubernetes/cmd/kubeadm/app/util/errors"
)

// main is upstream's cmd/kubeadm/kubeadm.go: HandleError prints the error
// and exits with kubeadm's own exit codes (3 for a validation error).
func main() {
	utilerrors.HandleError(app.Run())
}
