# The ten CEL rules of rampart's admission benchmark (`cel_policy()` in src/lib.rs), written in
# Rego as a Gatekeeper library author would, for the side-by-side run: the same checks on the
# same pod, by regorus.
package celrules

import rego.v1

pod := input.request.object

spec := object.get(pod, "spec", {})

containers := array.concat(object.get(spec, "initContainers", []), spec.containers)

sc(c) := object.get(c, "securityContext", {})

violation contains "registry" if {
	some c in containers
	not startswith(c.image, "registry.acme.example/")
}

violation contains "pinned" if {
	some c in containers
	endswith(c.image, ":latest")
}

violation contains "pinned" if {
	some c in containers
	not contains(c.image, ":")
}

violation contains "memory-cap" if {
	some c in containers
	mem := c.resources.limits.memory
	units.parse_bytes(mem) > units.parse_bytes("1Gi")
}

violation contains "cpu-request" if {
	some c in containers
	not c.resources.requests.cpu
}

pod_non_root if spec.securityContext.runAsNonRoot == true

violation contains "non-root" if {
	not pod_non_root
	some c in containers
	not sc(c).runAsNonRoot == true
}

violation contains "team" if not regex.match(`^[a-z][a-z0-9-]*$`, object.get(object.get(pod.metadata, "labels", {}), "team", ""))

violation contains "no-host-path" if {
	some v in object.get(spec, "volumes", [])
	v.hostPath
}

violation contains "ports" if {
	some c in spec.containers
	some p in object.get(c, "ports", [])
	not p.containerPort >= 1024
}

violation contains "ports" if {
	some c in spec.containers
	some p in object.get(c, "ports", [])
	not p.containerPort < 32768
}

violation contains "read-only-root" if {
	some c in containers
	not sc(c).readOnlyRootFilesystem == true
}

violation contains "no-secret-env" if {
	some c in containers
	some e in object.get(c, "env", [])
	e.valueFrom.secretKeyRef
}
