module gwdoctor/test/controlplane/crds

go 1.26.0

// Not built: these modules are only downloaded so scripts/build-controlplane.sh
// can copy their CRD manifests out of the module cache (checksummed by go.sum).
// gateway-api v1.7.0 exists but its go.mod says go 1.27.0, which Go 1.26.x refuses.
require (
	istio.io/api v1.32.0
	sigs.k8s.io/gateway-api v1.6.3
)
