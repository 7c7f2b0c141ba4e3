// Command vulnreport reads govulncheck -format json on its standard input
// and reports the vulnerabilities homelab's code calls, one line each with
// the module, the version found and the version that fixes it. It exits 1
// when a called vulnerability is in a module go.mod can update; one in the
// standard library is the Go toolchain's, fixed by a newer Go release, and
// fails only with -stdlib=fail (make lint warns: CI runs the machine's Go).
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	stdlib := flag.String("stdlib", "warn", "a called vulnerability in the standard library: warn or fail")
	flag.Parse()
	if *stdlib != "warn" && *stdlib != "fail" {
		fmt.Fprintln(os.Stderr, "vulnreport: -stdlib: want warn or fail")
		os.Exit(2)
	}
	r, err := read(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vulnreport:", err)
		os.Exit(1)
	}
	if r.write(os.Stdout, *stdlib == "fail") {
		os.Exit(1)
	}
}
