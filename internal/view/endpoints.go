package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
)

// Built says which endpoints a run brought up, so that a partial run
// (a plan of some phases, a --target) lists only those.
type Built struct {
	// VIPs are the names of the VIPs whose gate passed.
	VIPs map[string]bool
	// KubernetesAPI is true once the API answered on its endpoint name.
	KubernetesAPI bool
	// Kubeconfig is true once the admin kubeconfig was written.
	Kubeconfig bool
}

// Endpoints writes where the lab answers, of what built says the run
// brought up: each VIP with its names and the services it fronts, the
// Kubernetes API, and the admin kubeconfig's path. It writes nothing when
// the run brought up none of them.
func Endpoints(w io.Writer, inv *inventory.Inventory, kubeconfig string, built Built) {
	lb := inv.LoadBalancer
	var vips []inventory.VIP
	if lb != nil {
		for _, vip := range lb.VIPs {
			if built.VIPs[vip.Name] {
				vips = append(vips, vip)
			}
		}
	}
	k := inv.Kubernetes
	api := k != nil && built.KubernetesAPI
	conf := k != nil && built.Kubeconfig && kubeconfig != ""
	if len(vips) == 0 && !api && !conf {
		return
	}
	fmt.Fprintln(w, "\nEndpoints:")
	for _, vip := range vips {
		names := make([]string, len(vip.DNS))
		for i, n := range vip.DNS {
			names[i] = inv.FQDN(n)
		}
		var services []string
		for _, f := range lb.Frontends {
			if f.VIP == vip.Name {
				services = append(services, fmt.Sprintf("%s :%d", f.Name, f.Port))
			}
		}
		fmt.Fprintf(w, "  VIP %-10s %s", vip.Name, vip.Address)
		if len(names) > 0 {
			fmt.Fprintf(w, " (%s)", strings.Join(names, ", "))
		}
		if len(services) > 0 {
			fmt.Fprintf(w, ": %s", strings.Join(services, ", "))
		}
		fmt.Fprintln(w)
	}
	if api {
		fmt.Fprintf(w, "  Kubernetes API  https://%s:6443\n", k.Endpoint)
	}
	if conf {
		fmt.Fprintf(w, "  kubeconfig      %s\n", kubeconfig)
	}
}
