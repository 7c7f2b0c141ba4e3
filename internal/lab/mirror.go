package lab

import (
	"fmt"
	"net/http"
	"os"
	"strings"
)

// MirrorEnv, set to "ADDR DIR" in a test binary's environment, makes that
// binary an HTTP file server of DIR on ADDR (ServeMirror): a lab's mirror
// host runs the test binary so to serve a tools/k8s build's apt
// repository and image archives inside the lab.
const MirrorEnv = "HOMELAB_LAB_MIRROR"

// ServeMirror serves the directory MirrorEnv names and never returns, or
// returns at once when MirrorEnv is unset. A lab test's TestMain calls it
// before m.Run.
func ServeMirror() {
	spec := os.Getenv(MirrorEnv)
	if spec == "" {
		return
	}
	addr, dir, _ := strings.Cut(spec, " ")
	fmt.Fprintln(os.Stderr, http.ListenAndServe(addr, http.FileServer(http.Dir(dir))))
	os.Exit(1)
}
