// render-injector renders Istio's own install charts (the istio-discovery chart embedded in istio.io/istio, exactly as
// `istioctl manifest generate` does, default profile) and writes the files istiod reads when it runs out of cluster:
//
//	<out>/inject/config, <out>/inject/values   data of ConfigMap istio-system/istio-sidecar-injector
//	                                           (injection templates: kube-gateway, waypoint, sidecar, ...)
//	<out>/mesh.default.yaml                    data.mesh of ConfigMap istio-system/istio (for reference)
//
// Test-only: used by scripts/build-istiod.sh so that istiod's gateway deployment controller has its templates.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"istio.io/istio/operator/pkg/render"
	"istio.io/istio/operator/pkg/util/clog"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: render-injector <out-dir>")
		os.Exit(2)
	}
	out := os.Args[1]
	sets, _, err := render.GenerateManifest(nil, nil, false, nil, clog.NewDefaultLogger())
	if err != nil {
		fmt.Fprintln(os.Stderr, "render:", err)
		os.Exit(1)
	}
	want := map[string]map[string]string{
		"istio-sidecar-injector": {"config": "inject/config", "values": "inject/values"},
		"istio":                  {"mesh": "mesh.default.yaml"},
	}
	written := 0
	for _, set := range sets {
		for _, m := range set.Manifests {
			if m.GetKind() != "ConfigMap" || m.GetNamespace() != "istio-system" {
				continue
			}
			files, ok := want[m.GetName()]
			if !ok {
				continue
			}
			data, _, _ := unstructuredStrings(m.Object)
			for key, file := range files {
				v, ok := data[key]
				if !ok {
					fmt.Fprintf(os.Stderr, "ConfigMap %s has no key %q\n", m.GetName(), key)
					os.Exit(1)
				}
				p := filepath.Join(out, file)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				written++
			}
		}
	}
	if written != 3 {
		fmt.Fprintf(os.Stderr, "expected 3 files from ConfigMaps istio-sidecar-injector and istio, wrote %d\n", written)
		os.Exit(1)
	}
}

func unstructuredStrings(obj map[string]any) (map[string]string, bool, error) {
	raw, ok := obj["data"].(map[string]any)
	if !ok {
		return nil, false, fmt.Errorf("no data")
	}
	out := map[string]string{}
	for k, v := range raw {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out, true, nil
}
