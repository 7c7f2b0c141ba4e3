package pve

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
)

// Named formats PVE registers (pve-common JSONSchema.pm, qemu-server,
// pve-container) that the simulator checks; other names pass unchecked.
var (
	reNodeName   = regexp.MustCompile(`^(?i:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)$`)
	reDNSLabel   = `(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)`
	reDNSName    = regexp.MustCompile(`^(?:` + reDNSLabel + `\.)*` + reDNSLabel + `$`)
	reURLEncoded = regexp.MustCompile(`^[-%a-zA-Z0-9_.!~*'()]*$`)
	reTag        = regexp.MustCompile(`^(?i:[a-z0-9_][a-z0-9_+.-]*)$`)
	reStorageID  = regexp.MustCompile(`^(?i:[a-z][a-z0-9._-]*[a-z0-9])$`)
	reConfigID   = regexp.MustCompile(`^(?i:[a-z][a-z0-9_-]+)$`)
	reMAC        = regexp.MustCompile(`^(?i:[a-f0-9][02468ace](?::[a-f0-9]{2}){5})$`)
	reVolumeID   = regexp.MustCompile(`^(?i:[a-z][a-z0-9._-]*[a-z0-9]):(.+)$`)
	reDiskSize   = regexp.MustCompile(`^(\d+(\.\d+)?)([KMGT])?$`)
	rePoolID     = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	reBridgeID   = regexp.MustCompile(`^[-_.\w]+$`)
	reVMID       = regexp.MustCompile(`^[1-9]\d*$`)
)

// ipconfigFormat is qemu-server's pve-qm-ipconfig property string.
func ipconfigFormat() map[string]*prop {
	return ps{
		"ip":  str().named("pve-ipv4-config").opt(),
		"gw":  str().named("ipv4").opt(),
		"ip6": str().named("pve-ipv6-config").opt(),
		"gw6": str().named("ipv6").opt(),
	}
}

// checkFormat checks v against a named format; path names the parameter
// for nested property strings.
func checkFormat(name, v, path string) error {
	if check := namedFormat(name); check != nil {
		return check(v, path)
	}
	if base, ok := strings.CutSuffix(name, "-list"); ok {
		if check := namedFormat(base); check != nil {
			for _, item := range splitList(v) {
				if err := check(item, path); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if base, ok := strings.CutSuffix(name, "-opt"); ok && v != "" {
		return checkFormat(base, v, path)
	}
	return nil
}

// splitList is pve-common's split_list.
func splitList(v string) []string {
	return strings.FieldsFunc(v, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == 0
	})
}

func matchOr(re *regexp.Regexp, msg string) func(string, string) error {
	return func(v, _ string) error {
		if !re.MatchString(v) {
			return errors.New(strings.ReplaceAll(msg, "%s", v))
		}
		return nil
	}
}

// namedFormat returns the checker of a named format, or nil.
func namedFormat(name string) func(v, path string) error {
	switch name {
	case "pve-node":
		return matchOr(reNodeName, "value does not look like a valid node name")
	case "pve-vmid":
		return matchOr(reVMID, "value does not look like a valid VM ID")
	case "dns-name":
		return matchOr(reDNSName, "value does not look like a valid DNS name")
	case "urlencoded":
		return matchOr(reURLEncoded, "invalid urlencoded string: %s")
	case "pve-storage-id":
		return matchOr(reStorageID, "storage ID '%s' contains illegal characters")
	case "pve-configid":
		return matchOr(reConfigID, "invalid configuration ID '%s'")
	case "mac-addr":
		return matchOr(reMAC, "value does not look like a valid unicast MAC address")
	case "pve-poolid":
		return matchOr(rePoolID, "invalid pool ID '%s'")
	case "pve-bridge-id":
		return matchOr(reBridgeID, "invalid bridge ID '%s'")
	case "pve-volume-id":
		return matchOr(reVolumeID, "unable to parse volume ID '%s'")
	case "disk-size":
		return matchOr(reDiskSize, "value '%s' is not a valid disk size")
	case "pve-startup-order", "pve-qm-startup":
		return checkStartupOrder
	case "pve-tag-list":
		return checkTagList
	case "ipv4":
		return ipCheck(func(a netip.Addr) bool { return a.Is4() }, "value does not look like a valid IPv4 address")
	case "ipv6":
		return ipCheck(func(a netip.Addr) bool { return a.Is6() }, "value does not look like a valid IPv6 address")
	case "CIDR":
		return cidrCheck(func(netip.Addr) bool { return true }, "value does not look like a valid CIDR network")
	case "CIDRv4":
		return cidrCheck(func(a netip.Addr) bool { return a.Is4() }, "value does not look like a valid IPv4 CIDR network")
	case "CIDRv6":
		return cidrCheck(func(a netip.Addr) bool { return a.Is6() }, "value does not look like a valid IPv6 CIDR network")
	case "pve-ipv4-config":
		return ipConfigCheck(true)
	case "pve-ipv6-config":
		return ipConfigCheck(false)
	case "pve-qm-ipconfig":
		return checkIPConfig
	case "pve-lxc-mp-string", "pve-volume-id-or-qm-path", "pve-volume-id-or-absolute-path":
		return checkVolumeOrPath
	}
	return nil
}

var reStartupPart = regexp.MustCompile(`^(?:(?:order=)?\d+|up=\d+|down=\d+)$`)

// checkStartupOrder is pve-common's pve_verify_startup_order: comma
// separated `[order=]N`, `up=N`, `down=N`; blank parts are skipped, and
// Perl's falsy values ("" and "0") do not parse at all.
func checkStartupOrder(v, _ string) error {
	if v == "" || v == "0" {
		return errors.New("unable to parse startup options")
	}
	for _, part := range strings.Split(v, ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		if !reStartupPart.MatchString(part) {
			return errors.New("unable to parse startup options")
		}
	}
	return nil
}

func checkTagList(v, _ string) error {
	for _, tag := range splitList(v) {
		if !reTag.MatchString(tag) {
			return fmt.Errorf("invalid characters in tag '%s'", tag)
		}
	}
	return nil
}

func ipCheck(ok func(netip.Addr) bool, msg string) func(string, string) error {
	return func(v, _ string) error {
		a, err := netip.ParseAddr(v)
		if err != nil || !ok(a) || a.Zone() != "" {
			return errors.New(msg)
		}
		return nil
	}
}

func cidrCheck(ok func(netip.Addr) bool, msg string) func(string, string) error {
	return func(v, _ string) error {
		p, err := netip.ParsePrefix(v)
		if err != nil || !ok(p.Addr()) {
			return errors.New(msg)
		}
		return nil
	}
}

func ipConfigCheck(v4 bool) func(string, string) error {
	return func(v, _ string) error {
		switch {
		case v == "dhcp" || v == "manual":
			return nil
		case !v4 && v == "auto":
			return nil
		}
		p, err := netip.ParsePrefix(v)
		if err == nil && p.Addr().Is4() == v4 {
			return nil
		}
		if v4 {
			return errors.New("value does not look like a valid ipv4 network configuration")
		}
		return errors.New("value does not look like a valid ipv6 network configuration")
	}
}

// checkIPConfig is qemu-server's verify_ipconfig: the property string,
// and a gateway only with an address of its family.
func checkIPConfig(v, path string) error {
	res, err := parsePropertyString(ipconfigFormat(), v, path)
	if err != nil {
		return err
	}
	if res["gw"] != "" && res["ip"] == "" {
		return errors.New("gateway specified without specifying an IP address")
	}
	if res["gw6"] != "" && res["ip6"] == "" {
		return errors.New("gateway specified without specifying an IP address")
	}
	return nil
}

// checkVolumeOrPath accepts a volume ID, STORAGE:SIZE, an absolute path,
// or the words PVE allows for drives.
func checkVolumeOrPath(v, _ string) error {
	switch {
	case v == "none" || v == "cdrom" || strings.HasPrefix(v, "/"):
		return nil
	case reVolumeID.MatchString(v):
		return nil
	}
	return fmt.Errorf("unable to parse volume ID '%s'", v)
}
