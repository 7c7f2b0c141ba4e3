package kubeadm

import (
	"github.com/homelabctl/homelab/pkg/inventory"
	"github.com/homelabctl/homelab/pkg/remote"
	"github.com/homelabctl/homelab/pkg/step"
)

// The reads the steps' observations make on the nodes, declared (see
// step.HostReader) so that a plan gathers each node's facts in one
// command. The scripts are the ones the observations run; a step that
// asks the cluster declares the manager's probe too (managerReads). The
// gates declare their looks beside their code (gates.go, endpoint.go).

// catHosts reads /etc/hosts.
const catHosts = "cat /etc/hosts"

// nodeQuery asks the cluster, through master1, whether node is registered.
func nodeQuery(master *inventory.Guest, node string) string {
	return kubectl(master, "get node "+remote.Quote(node)+" --no-headers")
}

// memberList lists the etcd members, through master1.
func memberList(master *inventory.Guest) string {
	return etcdctl(master, "member list -w json")
}

// kubeProxyQuery reads which endpoint kube-proxy was restarted for.
func kubeProxyQuery(master *inventory.Guest) string {
	return kubectl(master, "-n kube-system get daemonset kube-proxy -o jsonpath='{.metadata.annotations."+endpointAnnotation+"}'")
}

// calicoQuery reads the image calico-node runs.
func calicoQuery(master *inventory.Guest) string {
	return kubectl(master, "-n kube-system get daemonset calico-node -o jsonpath='{.spec.template.spec.containers[0].image}'") + " 2>&1"
}

// HostReads declares the node's facts script.
func (w prepareWork) HostReads() []step.HostRead {
	return []step.HostRead{{Host: w.node, Script: factsFor(w.spec)}}
}

// HostReads declares master1's kubeadm files.
func (w initWork) HostReads() []step.HostRead {
	return []step.HostRead{{Host: w.master.Name, Script: stateScript}}
}

// HostReads declares the node's kubeadm files and what the cluster says
// of the node.
func (w joinWork) HostReads() []step.HostRead {
	reads := append([]step.HostRead{{Host: w.node.Name, Script: stateScript}}, w.hosts.managerReads()...)
	if w.controlPlane {
		return append(reads, step.HostRead{Host: w.master.Name, Script: memberList(w.master)})
	}
	return append(reads, step.HostRead{Host: w.master.Name, Script: nodeQuery(w.master, w.node.Name)})
}

// HostReads declares the node's hosts files.
func (w hostsWork) HostReads() []step.HostRead {
	return []step.HostRead{{Host: w.node, Script: catHosts}, {Host: w.node, Path: HostsTemplate}}
}

// HostReads declares kube-proxy's annotation.
func (w kubeProxyWork) HostReads() []step.HostRead {
	return append(w.hosts.managerReads(), step.HostRead{Host: w.master.Name, Script: kubeProxyQuery(w.master)})
}

// HostReads declares calico-node's image.
func (w cniWork) HostReads() []step.HostRead {
	return append(w.hosts.managerReads(), step.HostRead{Host: w.master.Name, Script: calicoQuery(w.master)})
}

// HostReads declares master1's admin kubeconfig.
func (w kubeconfigWork) HostReads() []step.HostRead {
	return append(w.hosts.managerReads(), step.HostRead{Host: w.master, Script: "cat " + adminConf})
}

// HostReads declares the node's bridge CNI config.
func (w bridgeWork) HostReads() []step.HostRead {
	return []step.HostRead{{Host: w.node, Path: BridgeConfList}}
}
