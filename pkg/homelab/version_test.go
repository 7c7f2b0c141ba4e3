package homelab

import (
	"runtime/debug"
	"testing"
)

func TestBuildVersion(t *testing.T) {
	rev := []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}
	dirty := []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}
	tests := []struct {
		name        string
		linked      string
		commit      string
		main        string
		settings    []debug.BuildSetting
		wantVersion string
		wantCommit  string
	}{
		{"set at link time wins", "v1.2.3", "def456", "v0.9.0", rev, "v1.2.3", "def456"},
		{"a version at link time, the commit from the build", "v1.2.3", "", "(devel)", rev, "v1.2.3", "abc123"},
		{"go install module@version", "dev", "", "v0.9.0", nil, "v0.9.0", ""},
		{"a build in the work tree", "dev", "", "(devel)", rev, "dev", "abc123"},
		{"changes in the work tree", "dev", "", "(devel)", dirty, "dev", "abc123-dirty"},
		{"no build information", "dev", "", "", nil, "dev", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			info := &debug.BuildInfo{Main: debug.Module{Path: "github.com/homelabctl/homelab", Version: tt.main}, Settings: tt.settings}
			v, c := buildVersion(tt.linked, tt.commit, info)
			if v != tt.wantVersion || c != tt.wantCommit {
				t.Errorf("buildVersion = %q, %q; want %q, %q", v, c, tt.wantVersion, tt.wantCommit)
			}
		})
	}
}
