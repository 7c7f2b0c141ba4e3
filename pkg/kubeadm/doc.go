// Package kubeadm is the kubernetes phase: an HA kubeadm cluster behind the
// load balancers' VIP, bootstrapped without the chicken-and-egg.
//
// The endpoint name is first pinned to master1's real IP on every node;
// master1 is initialised and gated on its own /readyz; the other control
// planes join through the name (still master1) and are gated on apiserver
// and etcd health; the VIP path through HAProxy is gated; only then is the
// name flipped to the VIP everywhere, kube-proxy restarted, and the
// workers joined through the VIP. See docs/architecture.md.
//
// No control plane is fixed: cluster operations go through one that
// answers (manager.go). master1 rebuilt beside a running cluster joins it;
// TakeBackup takes a backup (etcd snapshot, PKI, ClusterConfiguration)
// from the first control plane that answers, and a Phase with Restore
// initialises master1 from one (restore.go).
package kubeadm
