// Package kube simulates the Kubernetes node programs of homelab's
// simulated hosts (pkg/sim/host): containerd, kubelet, kubeadm and kubectl
// from their Debian packages, answering as the real kubeadm/kubectl/
// containerd stack does, and the cluster they build together.
//
// A Sim holds one cluster (etcd members, nodes, bootstrap tokens, the
// kubeadm-certs Secret, daemonsets) shared by every host of a lab. Wire it
// into a lab with its four extension points:
//
//	s := kube.New(kube.Options{})
//	lab, _ := host.NewLab(host.LabOptions{Programs: s.Programs(), Packages: s.Packages(), Internet: s.Internet(), Wiped: s.Wiped})
//
// Wiped ties the cluster to the hosts' disks: a host that powers on as a
// new machine (its guest created again) takes its node's state with the
// old disk. Its Node stays registered, NotReady; its etcd member stays in
// the list, unreachable, until removed; when no control plane holding
// etcd's data is left, the cluster is gone.
//
// `kubeadm init` writes a real PKI (ECDSA P-256 keys, so the CA pin in its
// join commands is the SHA-256 of the real ca.crt's public key), kubeconfigs
// and static Pod manifests on the host and serves the apiserver on :6443
// (host.Host.ServeTLS): curl, HAProxy's checks, `kubeadm join` and kubectl
// reach it over the lab's network, through /etc/hosts, VIPs and HAProxy.
// Preflight checks, discovery and certificate download fail with kubeadm's
// words, and FailJoin injects a control-plane join that dies in the etcd
// phase, leaving an unpromoted learner as the real one does.
//
// Every Node gets spec.podCIDR when it registers, the next free /24 of
// kubeadm's podSubnet (kube-controller-manager's range allocator), and is
// Ready only with a CNI network: calico-node running, or a configuration
// libcni accepts in its host's /etc/cni/net.d (NetworkNotReady otherwise).
//
// Images matter as on a real node. An image is available on a host when
// containerd lists it in its k8s.io namespace (`ctr -n k8s.io images
// import`, or an earlier pull) or its registry answers through the lab's
// Internet (Internet serves registry.k8s.io and registry-1.docker.io; a
// test of an air-gapped lab deletes them). kubeadm's preflight pulls the
// control-plane images of init and of a control plane's join (ImagePull
// errors otherwise) and warns when containerd's sandbox image
// (sandbox_image of /etc/containerd/config.toml, Debian's pause:3.6 by
// default) is not its own pause image. Without its sandbox image a host
// starts no pod: init's control plane never comes up, a joining control
// plane's etcd learner is never promoted, and a worker joins but runs
// neither kube-proxy (its rollout never completes) nor calico-node (its
// Node stays NotReady).
//
// The etcd pods answer `etcdctl snapshot save` (a file under the pod's
// hostPath mounts lands on the host; a snapshot carries its SHA-256, as
// etcd's do), and `ctr run` of kubeadm's etcd image runs `etcdutl
// snapshot restore` into an empty data directory, refusing what etcdutl
// refuses. `kubeadm init` reuses a CA and service-account key it finds in
// /etc/kubernetes/pki and, with a restored data directory (and its
// preflight check ignored), starts etcd on it: the old objects come back
// with one member, and the old Nodes whose kubelets are gone keep the
// Ready their snapshot recorded for NodeMonitorGracePeriod (kubeadm join
// refuses a machine of such a name meanwhile). kubectl creates and reads
// ConfigMaps.
//
// Save and Load keep the cluster as JSON so a later process can reopen a
// simulated lab (hosts keep their files on disk); Attach then serves the
// apiservers again.
//
// Texts are the real programs': kubeadm's and kubectl's checked against
// the sources of Kubernetes v1.34.2 (k8s.io/kubernetes, k8s.io/kubectl,
// k8s.io/cli-runtime, k8s.io/client-go; the preflight runtime warning and
// the kubelet's cgroup v1 refusal against v1.35.4 to v1.37.2), etcdctl's
// against etcd v3.5.21;
// apt's and containerd 1.6's are from memory. Each checked text names its
// source file beside it; those written here without a source say so.
// TEXTS.md lists them.
package kube
