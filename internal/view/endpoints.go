package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/homelabctl/homelab/pkg/inventory"
)

// Endpoints writes where the lab answers once it is up: each VIP with its
// names and the services it fronts, the Kubernetes API, and the admin
// kubeconfig's path.
func Endpoints(w io.Writer, inv *inventory.Inventory, kubeconfig string) {
	lb := inv.LoadBalancer
	if lb == nil && inv.Kubernetes == nil {
		return
	}
	fmt.Fprintln(w, "\nEndpoints:")
	if lb != nil {
		for _, vip := range lb.VIPs {
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
	}
	if k := inv.Kubernetes; k != nil {
		fmt.Fprintf(w, "  Kubernetes API  https://%s:6443\n", k.Endpoint)
		if kubeconfig != "" {
			fmt.Fprintf(w, "  kubeconfig      %s\n", kubeconfig)
		}
	}
}
