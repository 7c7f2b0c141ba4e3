package routeros

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// settingsMenus are the menus that hold one set of properties rather than
// rows (print answers one !re without .id; set takes no .id), with the
// arguments set accepts (nil: read-only). Names as in RouterOS 7.22.3's
// /console/inspect (see schema_test.go).
var settingsMenus = map[string][]string{
	"/ip/dns": {"servers", "allow-remote-requests", "cache-size", "cache-max-ttl", "max-udp-packet-size",
		"query-server-timeout", "query-total-timeout", "max-concurrent-queries", "max-concurrent-tcp-sessions", "verify-doh-cert"},
	"/system/identity": {"name"},
	"/system/resource": nil,
}

// defaultSettings are the settings menus of a router with no
// configuration: RouterOS 7's defaults (/ip dns answers only the router
// itself until allow-remote-requests=yes).
func defaultSettings() map[string]map[string]string {
	return map[string]map[string]string{
		"/ip/dns": {"allow-remote-requests": "false", "cache-size": "2048KiB", "cache-max-ttl": "1w", "max-udp-packet-size": "4096",
			"query-server-timeout": "2s", "query-total-timeout": "10s", "max-concurrent-queries": "100",
			"max-concurrent-tcp-sessions": "20", "verify-doh-cert": "false"},
		"/system/identity": {"name": "MikroTik"},
	}
}

// resource is /system/resource as an RB5009 prints it: the fields a real
// one prints (tools read version, board-name, architecture-name and uptime
// first); the values are made up but plausible, the uptime counts from the
// simulated router's start.
func (r *Router) resource() map[string]string {
	return map[string]string{
		"uptime": formatUptime(time.Since(r.booted)), "version": Version, "build-time": "2026-03-10 09:12:41",
		"factory-software": "7.6", "free-memory": "912850944", "total-memory": "1073741824",
		"cpu": "ARM64", "cpu-count": "4", "cpu-frequency": "1400", "cpu-load": "1",
		"free-hdd-space": "942452736", "total-hdd-space": "1073741824",
		"write-sect-since-reboot": "212", "write-sect-total": "40718", "bad-blocks": "0",
		"architecture-name": "arm64", "board-name": "RB5009UG+S+IN", "platform": "MikroTik",
	}
}

// Version is the RouterOS version the simulator answers as, the one whose
// schema its tests check it against.
const Version = "7.22.3 (stable)"

// formatUptime prints a duration as RouterOS does: 2w3d4h5m6s, leading
// zero units left out.
func formatUptime(d time.Duration) string {
	s := int64(d / time.Second)
	var b strings.Builder
	for _, u := range []struct {
		unit string
		secs int64
	}{{"w", 7 * 86400}, {"d", 86400}, {"h", 3600}, {"m", 60}, {"s", 1}} {
		if n := s / u.secs; n > 0 || (u.unit == "s" && b.Len() == 0) {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			s -= n * u.secs
		}
	}
	return b.String()
}

// runSettings answers print and set on a settings menu.
func (r *Router) runSettings(path string, c command) reply {
	attrs := settingsMenus[path]
	switch c.verb {
	case "print", "getall":
		props := r.settings[path]
		if path == "/system/resource" {
			props = r.resource()
		}
		keys := slices.Sorted(maps.Keys(props))
		if p, ok := c.args[".proplist"]; ok {
			keys = strings.Split(p, ",")
		}
		s := []string{"!re"}
		for _, k := range keys {
			if v, ok := props[k]; ok {
				s = append(s, "="+k+"="+v)
			}
		}
		return append(reply{s}, done()...)
	case "set":
		if attrs == nil {
			return trap(0, "no such command")
		}
		for _, k := range c.order {
			if !slices.Contains(attrs, k) {
				return trap(1, "unknown parameter %s", k)
			}
		}
		for k, v := range c.args {
			if v == "" {
				delete(r.settings[path], k)
			} else {
				r.settings[path][k] = normalise(k, v)
			}
		}
		return done()
	}
	return trap(0, "no such command")
}
