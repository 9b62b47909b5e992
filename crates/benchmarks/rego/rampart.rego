# The checks rampart's admission benchmark evaluates, written in Rego in the style of the
# Gatekeeper library, for the regorus side-by-side run: Pod Security "restricted" (every
# control) plus the ten rules of the benchmark's ClusterSecurityPolicy.
package rampart

import rego.v1

pod := input.request.object

spec := object.get(pod, "spec", {})

pod_sc := object.get(spec, "securityContext", {})

containers contains c if some c in object.get(spec, "containers", [])

containers contains c if some c in object.get(spec, "initContainers", [])

containers contains c if some c in object.get(spec, "ephemeralContainers", [])

sc(c) := object.get(c, "securityContext", {})

# ---- Pod Security Standards: baseline ----

violation contains sprintf("privileged: container %v", [c.name]) if {
	some c in containers
	sc(c).privileged == true
}

violation contains sprintf("host namespaces: %v", [k]) if {
	some k in ["hostNetwork", "hostPID", "hostIPC"]
	spec[k] == true
}

violation contains sprintf("hostPort: container %v", [c.name]) if {
	some c in containers
	some p in object.get(c, "ports", [])
	object.get(p, "hostPort", 0) != 0
}

baseline_caps := {
	"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
	"NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
}

violation contains sprintf("capabilities: container %v adds %v", [c.name, cap]) if {
	some c in containers
	some cap in object.get(sc(c), ["capabilities", "add"], [])
	not baseline_caps[cap]
}

apparmor_ok(v) if v == ""

apparmor_ok(v) if v == "runtime/default"

apparmor_ok(v) if startswith(v, "localhost/")

violation contains sprintf("forbidden AppArmor profile: %v", [k]) if {
	some k, v in object.get(pod, ["metadata", "annotations"], {})
	startswith(k, "container.apparmor.security.beta.kubernetes.io/")
	not apparmor_ok(v)
}

violation contains "forbidden AppArmor profile: pod" if {
	t := object.get(pod_sc, ["appArmorProfile", "type"], "RuntimeDefault")
	not t in {"RuntimeDefault", "Localhost"}
}

selinux_types := {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}

selinux_bad(o) if not selinux_types[object.get(o, "type", "")]

selinux_bad(o) if object.get(o, "user", "") != ""

selinux_bad(o) if object.get(o, "role", "") != ""

violation contains "seLinuxOptions: pod" if selinux_bad(pod_sc.seLinuxOptions)

violation contains sprintf("seLinuxOptions: container %v", [c.name]) if {
	some c in containers
	selinux_bad(sc(c).seLinuxOptions)
}

violation contains sprintf("procMount: container %v", [c.name]) if {
	some c in containers
	object.get(sc(c), "procMount", "Default") != "Default"
}

violation contains "seccompProfile: pod Unconfined" if pod_sc.seccompProfile.type == "Unconfined"

allowed_sysctls := {
	"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
	"net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
	"net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
	"net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes", "net.ipv4.tcp_rmem",
	"net.ipv4.tcp_wmem", "net.ipv4.tcp_slow_start_after_idle", "net.ipv4.tcp_notsent_lowat",
}

violation contains sprintf("forbidden sysctl %v", [s.name]) if {
	some s in object.get(pod_sc, "sysctls", [])
	not allowed_sysctls[s.name]
}

violation contains "hostProcess: pod" if pod_sc.windowsOptions.hostProcess == true

violation contains sprintf("hostProcess: container %v", [c.name]) if {
	some c in containers
	sc(c).windowsOptions.hostProcess == true
}

violation contains sprintf("probe or lifecycle host: container %v", [c.name]) if {
	some c in containers
	some p in ["livenessProbe", "readinessProbe", "startupProbe"]
	some h in ["httpGet", "tcpSocket"]
	object.get(c, [p, h, "host"], "") != ""
}

# ---- Pod Security Standards: restricted ----

restricted_volumes := {
	"name", "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
	"persistentVolumeClaim", "projected", "secret",
}

violation contains sprintf("restricted volume types: %v uses %v", [v.name, k]) if {
	some v in object.get(spec, "volumes", [])
	some k, _ in v
	not restricted_volumes[k]
}

non_root(c) if sc(c).runAsNonRoot == true

non_root(c) if {
	pod_sc.runAsNonRoot == true
	not sc(c).runAsNonRoot == false
}

violation contains sprintf("runAsNonRoot != true: container %v", [c.name]) if {
	some c in containers
	not non_root(c)
}

violation contains "runAsUser=0: pod" if pod_sc.runAsUser == 0

violation contains sprintf("runAsUser=0: container %v", [c.name]) if {
	some c in containers
	sc(c).runAsUser == 0
}

violation contains sprintf("allowPrivilegeEscalation != false: container %v", [c.name]) if {
	some c in containers
	not sc(c).allowPrivilegeEscalation == false
}

seccomp_ok(c) if sc(c).seccompProfile.type in {"RuntimeDefault", "Localhost"}

seccomp_ok(c) if {
	not sc(c).seccompProfile
	pod_sc.seccompProfile.type in {"RuntimeDefault", "Localhost"}
}

violation contains sprintf("seccompProfile: container %v", [c.name]) if {
	some c in containers
	not seccomp_ok(c)
}

drops_all(c) if "ALL" in object.get(sc(c), ["capabilities", "drop"], [])

violation contains sprintf("unrestricted capabilities: container %v must drop ALL", [c.name]) if {
	some c in containers
	not drops_all(c)
}

violation contains sprintf("unrestricted capabilities: container %v adds %v", [c.name, cap]) if {
	some c in containers
	some cap in object.get(sc(c), ["capabilities", "add"], [])
	cap != "NET_BIND_SERVICE"
}

# ---- the ten SecurityPolicy rules ----

registry_ok(img) if startswith(img, "registry.acme.example/")

violation contains sprintf("registry: %v", [c.image]) if {
	some c in containers
	not registry_ok(c.image)
}

tagged(img) if contains(img, "@")

tagged(img) if {
	parts := split(img, "/")
	contains(parts[count(parts) - 1], ":")
}

violation contains sprintf("untagged: %v", [c.image]) if {
	some c in containers
	not tagged(c.image)
}

violation contains sprintf("latest: %v", [c.image]) if {
	some c in containers
	endswith(c.image, ":latest")
}

violation contains sprintf("root: container %v", [c.name]) if {
	some c in containers
	not non_root(c)
	object.get(sc(c), "runAsUser", object.get(pod_sc, "runAsUser", 0)) == 0
}

violation contains sprintf("hostPath %v", [v.hostPath.path]) if {
	some v in object.get(spec, "volumes", [])
	v.hostPath
	not startswith(v.hostPath.path, "/var/log")
}

violation contains sprintf("capability %v not allowed", [cap]) if {
	some c in containers
	some cap in object.get(sc(c), ["capabilities", "add"], [])
	not cap in {"NET_BIND_SERVICE"}
}

violation contains sprintf("missing request %v: container %v", [r, c.name]) if {
	some c in containers
	some r in ["cpu", "memory"]
	not c.resources.requests[r]
}

violation contains sprintf("missing limit memory: container %v", [c.name]) if {
	some c in containers
	not c.resources.limits.memory
}

violation contains sprintf("secret env: container %v", [c.name]) if {
	some c in containers
	some e in object.get(c, "env", [])
	e.valueFrom.secretKeyRef
}

violation contains sprintf("secret envFrom: container %v", [c.name]) if {
	some c in containers
	some e in object.get(c, "envFrom", [])
	e.secretRef
}
