package homelab

import (
	"runtime/debug"
	"strings"
)

// BuildVersion is homelab's version and the commit it was built from.
// The version is Version when set at link time; otherwise the module's
// version when built by go install module@version; otherwise "dev". The
// commit is the VCS revision go build stamps (with "-dirty" when the work
// tree had changes), or "" when the build carries none.
func BuildVersion() (version, commit string) {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return Version, ""
	}
	return buildVersion(Version, info)
}

func buildVersion(linked string, info *debug.BuildInfo) (version, commit string) {
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
	return version, commit
}
