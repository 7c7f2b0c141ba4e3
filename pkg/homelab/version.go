package homelab

import (
	"runtime/debug"
	"strings"
)

// Commit is the commit homelab was built from, set at build time with
// -ldflags "-X github.com/homelabctl/homelab/pkg/homelab.Commit=..." (make
// build and make release do); empty otherwise.
var Commit = ""

// BuildVersion is homelab's version and the commit it was built from.
// The version is Version when set at link time; otherwise the module's
// version when built by go install module@version; otherwise "dev". The
// commit is Commit when set at link time; otherwise the VCS revision go
// build stamps (with "-dirty" when the work tree had changes; go stamps
// none with -buildvcs=false or in a git worktree); otherwise "".
func BuildVersion() (version, commit string) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		info = &debug.BuildInfo{}
	}
	return buildVersion(Version, Commit, info)
}

func buildVersion(linked, linkedCommit string, info *debug.BuildInfo) (version, commit string) {
	version = linked
	if version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		version = info.Main.Version
	}
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			commit = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if commit != "" && dirty && !strings.HasSuffix(commit, "-dirty") {
		commit += "-dirty"
	}
	if linkedCommit != "" {
		commit = linkedCommit
	}
	return version, commit
}
