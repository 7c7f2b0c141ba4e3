package lab

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// K8sBuild is a build of real Kubernetes by tools/k8s/build.sh: its
// cache directory (bin/, images/, apt/) and its Kubernetes version.
type K8sBuild struct {
	Dir, Version string
}

// FindK8sBuild asks tools/k8s/build.sh under the repository root repo
// where the build of its pinned version is, and reports which of the
// files need (relative to that directory) it lacks: a test skips, or
// fails when it must run, naming them.
func FindK8sBuild(repo string, need ...string) (b K8sBuild, missing []string, err error) {
	script := filepath.Join(repo, "tools", "k8s", "build.sh")
	out, err := exec.Command(script, "path").Output()
	if err != nil {
		return b, nil, fmt.Errorf("%s path: %w", script, err)
	}
	b.Dir = strings.TrimSpace(string(out))
	if out, err = exec.Command(script, "version").Output(); err != nil {
		return b, nil, fmt.Errorf("%s version: %w", script, err)
	}
	b.Version = strings.TrimSpace(string(out))
	for _, f := range need {
		if _, err := os.Stat(filepath.Join(b.Dir, f)); err != nil {
			missing = append(missing, f)
		}
	}
	return b, missing, nil
}

// Images reads the build's images/images.txt (k8sdist): the archive file
// and the image reference it holds, one "FILE REF" a line.
func (b K8sBuild) Images() (map[string]string, error) {
	file := filepath.Join(b.Dir, "images", "images.txt")
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, ref, ok := strings.Cut(sc.Text(), " "); ok {
			out[name] = ref
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s lists no image", file)
	}
	return out, nil
}
