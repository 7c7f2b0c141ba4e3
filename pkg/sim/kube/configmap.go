package kube

import (
	"fmt"
	"strings"
)

func isConfigMap(kind string) bool {
	return kind == "configmap" || kind == "configmaps" || kind == "cm"
}

// createConfigMap is `create configmap NAME [--from-literal=K=V]...`
// (k8s.io/kubectl pkg/cmd/create/create_configmap.go): "configmap/NAME
// created", AlreadyExists for a name taken.
func (k kubectlCall) createConfigMap(name string) int {
	key := k.ns + "/" + name
	if _, ok := k.cl.ConfigMaps[key]; ok {
		// StandardErrorMessage of apimachinery's NewAlreadyExists.
		fmt.Fprintf(k.c.Stderr, "error: failed to create configmap: configmaps %q already exists\n", name)
		return 1
	}
	data := map[string]string{}
	for _, a := range k.c.Args {
		lit, ok := strings.CutPrefix(a, "--from-literal=")
		if !ok {
			continue
		}
		kk, v, ok := strings.Cut(lit, "=")
		if !ok {
			fmt.Fprintf(k.c.Stderr, "error: invalid literal source %s, expected key=value\n", lit)
			return 1
		}
		data[kk] = v
	}
	if k.cl.ConfigMaps == nil {
		k.cl.ConfigMaps = map[string]map[string]string{}
	}
	k.cl.ConfigMaps[key] = data
	fmt.Fprintf(k.c.Stdout, "configmap/%s created\n", name)
	return 0
}

// getConfigMap is `get configmap NAME -o jsonpath='{.data.KEY}'`, or its
// table row without -o.
func (k kubectlCall) getConfigMap(name string) int {
	data, ok := k.cl.ConfigMaps[k.ns+"/"+name]
	if !ok {
		return k.notFound("configmaps", name)
	}
	out := k.output()
	if out == "" {
		fmt.Fprintf(k.c.Stdout, "NAME%sDATA   AGE\n%s%s%d      0s\n", strings.Repeat(" ", max(3, len(name)-1)), name, "   ", len(data))
		return 0
	}
	p, isJSONPath := strings.CutPrefix(out, "jsonpath=")
	key, isData := strings.CutPrefix(strings.Trim(p, "'"), "{.data.")
	if !isJSONPath || !isData {
		fmt.Fprintf(k.c.Stderr, "error: the simulated kubectl reads a ConfigMap's -o jsonpath='{.data.KEY}' only, not %q\n", out)
		return 1
	}
	key = strings.ReplaceAll(strings.TrimSuffix(key, "}"), `\.`, ".")
	fmt.Fprint(k.c.Stdout, data[key])
	return 0
}
