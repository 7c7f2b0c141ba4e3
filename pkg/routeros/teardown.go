package routeros

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// Owned is one router entry that carries an inventory's ownership comment.
type Owned struct {
	Menu    string
	ID      string // valid until the router's next restore: used at once
	Comment string
	// Keep says why the entry must stay, or "".
	Keep string
}

// teardownMenus are the menus homelab writes, in the reverse of the order
// it creates entries in (research/routeros.md §3.5).
var teardownMenus = []string{
	"/ip/dns/static",
	"/ip/dhcp-server/lease",
	"/ip/dhcp-server/network",
	"/ip/dhcp-server",
	"/ip/pool",
	"/ip/address",
	"/interface/list/member",
	"/interface/bridge/port",
	"/interface/vlan",
	"/interface/bridge/vlan",
	"/interface/bridge",
}

// OwnedEntries lists the entries whose comment marks them as inventory
// inv's, in the order they can be removed. Nothing else is ever listed.
func OwnedEntries(ctx context.Context, c *Conn, inv string) ([]Owned, error) {
	prefix := fmt.Sprintf("homelab:%s:", inv)
	filtering := map[string]bool{}
	rep, err := c.Run(ctx, "/interface/bridge/print", "=.proplist=name,vlan-filtering")
	if err != nil {
		return nil, fmt.Errorf("list bridges: %w", err)
	}
	for _, r := range rep.Re {
		filtering[r.Map["name"]] = r.Map["vlan-filtering"] == "true"
	}
	var out []Owned
	for _, menu := range teardownMenus {
		rep, err := c.Run(ctx, menu+"/print", "=.proplist=.id,comment,dynamic,bridge")
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", menu, err)
		}
		for _, r := range rep.Re {
			if r.Map["dynamic"] == "true" || !strings.HasPrefix(r.Map["comment"], prefix) {
				continue
			}
			o := Owned{Menu: menu, ID: r.Map[".id"], Comment: r.Map["comment"]}
			if menu == "/interface/bridge/vlan" && filtering[r.Map["bridge"]] {
				o.Keep = fmt.Sprintf("VLAN filtering is on for %s: removing its VLAN rows could cut the router off; turn filtering off from the console first", r.Map["bridge"])
			}
			out = append(out, o)
		}
	}
	return out, nil
}

// Remove deletes one owned entry, checking by its comment that it is still
// the entry that was listed. An entry already gone counts as removed.
func Remove(ctx context.Context, c *Conn, o Owned, out io.Writer) error {
	if o.Keep != "" {
		return fmt.Errorf("keep %s %s: %s", o.Menu, o.Comment, o.Keep)
	}
	rep, err := c.Run(ctx, o.Menu+"/print", "=.proplist=.id", "?comment="+o.Comment)
	if err != nil {
		return fmt.Errorf("remove %s %s: %w", o.Menu, o.Comment, err)
	}
	if len(rep.Re) == 0 {
		return nil
	}
	for _, r := range rep.Re {
		if _, err := c.Run(ctx, o.Menu+"/remove", "=.id="+r.Map[".id"]); err != nil {
			return fmt.Errorf("remove %s %s: %w", o.Menu, o.Comment, err)
		}
		fmt.Fprintf(out, "removed %s %s (%s)\n", o.Menu, r.Map[".id"], o.Comment)
	}
	return nil
}
