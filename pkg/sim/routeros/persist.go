package routeros

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"
)

// stateFormat is the version of what Save writes; Load refuses others.
const stateFormat = 1

// savedRouter is the router's configuration as Save writes it (JSON).
type savedRouter struct {
	FormatVersion int `json:"format_version"`
	// Menus are every menu's rows in order, by path. Rows RouterOS makes
	// on its own from other rows (the dynamic bridge VLANs) are not kept:
	// they follow from the rest.
	Menus  map[string][]savedItem `json:"menus"`
	NextID int                    `json:"next_id"`
	// Settings are the settings menus (/ip/dns, /system/identity). A
	// state saved before they existed loads with the default
	// configuration's, which is what that router answered as.
	Settings map[string]map[string]string `json:"settings,omitempty"`
	// LockedOut is set when the configuration had cut the API's
	// management path.
	LockedOut bool `json:"locked_out,omitempty"`
}

type savedItem struct {
	ID    string            `json:"id"`
	Props map[string]string `json:"props"`
}

// Save writes the router's configuration to w: every menu's entries with
// their .id, comments and flags (dynamic rows added through the console
// included), and the next .id. A server Loaded from it answers as this
// one does. Faults, the command log and the users are not saved.
func (s *Server) Save(w io.Writer) error {
	s.mu.Lock()
	out := savedRouter{FormatVersion: stateFormat, Menus: map[string][]savedItem{}, NextID: s.router.nextID, LockedOut: s.lockedOut,
		Settings: map[string]map[string]string{}}
	for path, props := range s.router.settings {
		out.Settings[path] = maps.Clone(props)
	}
	for path, m := range s.router.menus {
		items := make([]savedItem, 0, len(m.items))
		for _, it := range m.items {
			items = append(items, savedItem{ID: it.id, Props: maps.Clone(it.props)})
		}
		out.Menus[path] = items
	}
	s.mu.Unlock()
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("routeros simulator: save: %w", err)
	}
	return nil
}

// Load replaces the router's configuration with one Save wrote. Load it
// before Start: sessions already open would see the change mid-way.
func (s *Server) Load(r io.Reader) error {
	var in savedRouter
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		return fmt.Errorf("routeros simulator: load: %w", err)
	}
	if in.FormatVersion != stateFormat {
		return fmt.Errorf("routeros simulator: load: state format %d, this simulator reads %d", in.FormatVersion, stateFormat)
	}
	router := &Router{menus: map[string]*menu{}, nextID: in.NextID, settings: defaultSettings(), booted: time.Now()}
	for _, m := range menus() {
		router.menus[m.path] = m
	}
	if in.Settings == nil {
		router.settings["/ip/dns"]["allow-remote-requests"] = "true"
	}
	for path, props := range in.Settings {
		if _, ok := router.settings[path]; !ok {
			return fmt.Errorf("routeros simulator: load: no settings menu %s in this simulator", path)
		}
		router.settings[path] = maps.Clone(props)
	}
	for _, path := range slices.Sorted(maps.Keys(in.Menus)) {
		m, ok := router.menus[path]
		if !ok {
			return fmt.Errorf("routeros simulator: load: no menu %s in this simulator", path)
		}
		seen := map[string]bool{}
		for _, it := range in.Menus[path] {
			if it.ID == "" || seen[it.ID] {
				return fmt.Errorf("routeros simulator: load: %s: missing or repeated .id %q", path, it.ID)
			}
			seen[it.ID] = true
			props := it.Props
			if props == nil {
				props = map[string]string{}
			}
			m.items = append(m.items, &item{id: it.ID, props: props})
		}
	}
	if router.nextID < 1 {
		return fmt.Errorf("routeros simulator: load: next .id %d", router.nextID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.router, s.lockedOut = router, in.LockedOut
	return nil
}
