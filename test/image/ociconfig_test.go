package image_test

// The OCI runtime configuration (config.json) of the agent's container, generated from the DaemonSet's
// pod spec the way a kubelet and a CRI runtime would: user and groups, capabilities, privilege
// escalation, read-only root, host network, environment, volume mounts, resource limits. Nothing here
// repeats a value of config/agent/daemonset.yaml; whatever the manifest uses that this generator does not
// know fails the test, so a change to the manifest cannot go untested.

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/calico-node-status/calico-node-status/internal/testimage"
)

// The subset of the OCI runtime spec (v1.0) the agent's container needs.
type ociSpec struct {
	OCIVersion string      `json:"ociVersion"`
	Process    ociProcess  `json:"process"`
	Root       ociRoot     `json:"root"`
	Hostname   string      `json:"hostname"`
	Mounts     []ociMount  `json:"mounts"`
	Linux      ociLinux    `json:"linux"`
	Annots     annotations `json:"annotations,omitempty"`
}

type annotations map[string]string

type ociProcess struct {
	User            ociUser         `json:"user"`
	Args            []string        `json:"args"`
	Env             []string        `json:"env"`
	Cwd             string          `json:"cwd"`
	Capabilities    ociCapabilities `json:"capabilities"`
	NoNewPrivileges bool            `json:"noNewPrivileges"`
}

type ociUser struct {
	UID            int64   `json:"uid"`
	GID            int64   `json:"gid"`
	AdditionalGids []int64 `json:"additionalGids,omitempty"`
}

type ociCapabilities struct {
	Bounding    []string `json:"bounding"`
	Effective   []string `json:"effective"`
	Inheritable []string `json:"inheritable"`
	Permitted   []string `json:"permitted"`
	Ambient     []string `json:"ambient"`
}

type ociRoot struct {
	Path     string `json:"path"`
	Readonly bool   `json:"readonly"`
}

type ociMount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Options     []string `json:"options,omitempty"`
}

type ociLinux struct {
	Namespaces    []ociNamespace `json:"namespaces"`
	Resources     *ociResources  `json:"resources,omitempty"`
	CgroupsPath   string         `json:"cgroupsPath,omitempty"`
	MaskedPaths   []string       `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string       `json:"readonlyPaths,omitempty"`
}

type ociNamespace struct {
	Type string `json:"type"`
}

type ociResources struct {
	Memory *struct {
		Limit int64 `json:"limit"`
	} `json:"memory,omitempty"`
	CPU *struct {
		Quota  int64  `json:"quota"`
		Period uint64 `json:"period"`
	} `json:"cpu,omitempty"`
}

// podContext is what the kubelet knows when it starts the container: the pod's node and namespace,
// ConfigMaps for envFrom, and where each volume's content is on the host.
type podContext struct {
	nodeName, namespace string
	podName, podUID     string                       // the downward API's metadata.name and metadata.uid
	configMaps          map[string]map[string]string // name -> data (envFrom)
	// volumeSource maps a volume name to the host directory a runtime would bind (the lab's BIRD run
	// directory for the hostPath, the materialized projected token for the service-account volume).
	volumeSource map[string]string
	cgroupsPath  string
}

var allCaps = []string{ // the capabilities Kubernetes' "drop: [ALL]" removes: every one the kernel has
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
	"CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
	"CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// containerd's default set, what a container gets before the securityContext adds or drops any.
var defaultCaps = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"}

// ociConfigFor returns the runtime configuration of container c of ds's pod, on the image img unpacked
// at rootfs. unsupported lists the settings it could not express (reported by the test, never silent).
func ociConfigFor(ds *appsv1.DaemonSet, c *corev1.Container, img *testimage.Image, rootfs string, pc podContext) (spec ociSpec, unsupported []string, err error) {
	pod := ds.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	csc := c.SecurityContext
	if csc == nil {
		csc = &corev1.SecurityContext{}
	}

	// User: the container's runAsUser/runAsGroup over the pod's over the image's.
	uid, gid, err := imageUser(img.Config.Config.User)
	if err != nil {
		return spec, nil, err
	}
	for _, u := range []*int64{psc.RunAsUser, csc.RunAsUser} {
		if u != nil {
			uid = *u
		}
	}
	for _, g := range []*int64{psc.RunAsGroup, csc.RunAsGroup} {
		if g != nil {
			gid = *g
		}
	}
	nonRoot := (psc.RunAsNonRoot != nil && *psc.RunAsNonRoot) || (csc.RunAsNonRoot != nil && *csc.RunAsNonRoot)
	if nonRoot && uid == 0 {
		return spec, nil, fmt.Errorf("runAsNonRoot with uid 0: the kubelet would refuse to start the container")
	}
	user := ociUser{UID: uid, GID: gid, AdditionalGids: append([]int64(nil), psc.SupplementalGroups...)}
	if psc.FSGroup != nil {
		user.AdditionalGids = append(user.AdditionalGids, *psc.FSGroup)
	}

	// Capabilities: the runtime's default set, minus drop, plus add (Kubernetes' order).
	caps := map[string]bool{}
	for _, cp := range defaultCaps {
		caps[cp] = true
	}
	if csc.Capabilities != nil {
		for _, d := range csc.Capabilities.Drop {
			if d == "ALL" {
				clear(caps)
				continue
			}
			delete(caps, "CAP_"+strings.ToUpper(string(d)))
		}
		for _, a := range csc.Capabilities.Add {
			if a == "ALL" {
				for _, cp := range allCaps {
					caps[cp] = true
				}
				continue
			}
			caps["CAP_"+strings.ToUpper(string(a))] = true
		}
	}
	capList := []string{}
	for _, cp := range allCaps {
		if caps[cp] {
			capList = append(capList, cp)
		}
	}
	if csc.Privileged != nil && *csc.Privileged {
		unsupported = append(unsupported, "privileged")
	}
	if psc.SeccompProfile != nil || csc.SeccompProfile != nil {
		// RuntimeDefault is the CRI runtime's own profile (containerd's); runc has none of its own. The
		// node test runs the DaemonSet under containerd with it.
		unsupported = append(unsupported, "seccompProfile (the CRI runtime's profile; the node test covers it)")
	}

	// Environment: PATH as a runtime sets it, the image's, then the kubelet's service variables are
	// overridden by envFrom and env.
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	env = append(env, img.Config.Config.Env...)
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			data, ok := pc.configMaps[ef.ConfigMapRef.Name]
			if !ok && (ef.ConfigMapRef.Optional == nil || !*ef.ConfigMapRef.Optional) {
				return spec, nil, fmt.Errorf("envFrom ConfigMap %s is required and missing", ef.ConfigMapRef.Name)
			}
			for k, v := range data {
				env = append(env, ef.Prefix+k+"="+v)
			}
		default:
			return spec, nil, fmt.Errorf("envFrom %+v: not supported by this generator", ef)
		}
	}
	for _, e := range c.Env {
		v, err := envValue(e, c, pc)
		if err != nil {
			return spec, nil, err
		}
		env = append(env, e.Name+"="+v)
	}

	mounts := []ociMount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		// Host network: the host's /sys, read-only, as runtimes do when they share the network namespace.
		{Destination: "/sys", Type: "bind", Source: "/sys", Options: []string{"rbind", "nosuid", "noexec", "nodev", "ro"}},
	}
	for _, vm := range c.VolumeMounts {
		src, ok := pc.volumeSource[vm.Name]
		if !ok {
			return spec, nil, fmt.Errorf("volume %s (mounted at %s): the test gave it no host directory", vm.Name, vm.MountPath)
		}
		if vm.SubPath != "" || vm.SubPathExpr != "" {
			return spec, nil, fmt.Errorf("volume mount %s uses a subPath: not supported by this generator", vm.Name)
		}
		opts := []string{"rbind", "rprivate"}
		if vm.ReadOnly {
			opts = append(opts, "ro")
		} else {
			opts = append(opts, "rw")
		}
		mounts = append(mounts, ociMount{Destination: vm.MountPath, Type: "bind", Source: src, Options: opts})
	}

	namespaces := []ociNamespace{{Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}}
	if !pod.HostNetwork {
		return spec, nil, fmt.Errorf("the DaemonSet does not use the host network: this test runs the container in the host's network namespace")
	}
	if pod.HostPID || pod.HostIPC {
		unsupported = append(unsupported, "hostPID/hostIPC")
	}

	res := &ociResources{}
	if m, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
		res.Memory = &struct {
			Limit int64 `json:"limit"`
		}{Limit: m.Value()}
	}
	if cpu, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		// The kubelet's conversion: quota = millicores * period / 1000.
		res.CPU = &struct {
			Quota  int64  `json:"quota"`
			Period uint64 `json:"period"`
		}{Quota: cpu.MilliValue() * 100000 / 1000, Period: 100000}
	}

	args := append(append([]string{}, img.Config.Config.Entrypoint...), img.Config.Config.Cmd...)
	if len(c.Command) > 0 {
		args = append(append([]string{}, c.Command...), c.Args...)
	} else if len(c.Args) > 0 {
		args = append(append([]string{}, img.Config.Config.Entrypoint...), c.Args...)
	}
	cwd := img.Config.Config.WorkingDir
	if c.WorkingDir != "" {
		cwd = c.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	readOnlyRoot := csc.ReadOnlyRootFilesystem != nil && *csc.ReadOnlyRootFilesystem
	noNewPrivs := csc.AllowPrivilegeEscalation != nil && !*csc.AllowPrivilegeEscalation

	spec = ociSpec{
		OCIVersion: "1.0.2",
		Process: ociProcess{
			User: user, Args: args, Env: env, Cwd: cwd, NoNewPrivileges: noNewPrivs,
			Capabilities: ociCapabilities{Bounding: capList, Effective: capList, Permitted: capList, Inheritable: []string{}, Ambient: []string{}},
		},
		Root:     ociRoot{Path: rootfs, Readonly: readOnlyRoot},
		Hostname: pc.nodeName,
		Mounts:   mounts,
		Linux: ociLinux{
			Namespaces: namespaces, Resources: res, CgroupsPath: pc.cgroupsPath,
			// containerd's defaults for a container that is not privileged.
			MaskedPaths: []string{"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
				"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"},
			ReadonlyPaths: []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"},
		},
	}
	return spec, unsupported, nil
}

func imageUser(u string) (uid, gid int64, err error) {
	us, gs, ok := strings.Cut(u, ":")
	if uid, err = strconv.ParseInt(us, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("image user %q is not numeric: %w", u, err)
	}
	gid = uid
	if ok {
		if gid, err = strconv.ParseInt(gs, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("image group %q is not numeric: %w", u, err)
		}
	}
	return uid, gid, nil
}

// envValue resolves one env entry as the kubelet does for the sources the DaemonSet uses.
func envValue(e corev1.EnvVar, c *corev1.Container, pc podContext) (string, error) {
	if e.ValueFrom == nil {
		return e.Value, nil
	}
	switch {
	case e.ValueFrom.FieldRef != nil:
		switch e.ValueFrom.FieldRef.FieldPath {
		case "spec.nodeName":
			return pc.nodeName, nil
		case "metadata.namespace":
			return pc.namespace, nil
		case "metadata.name":
			return pc.podName, nil
		case "metadata.uid":
			return pc.podUID, nil
		}
		return "", fmt.Errorf("env %s: fieldRef %s not supported by this generator", e.Name, e.ValueFrom.FieldRef.FieldPath)
	case e.ValueFrom.ResourceFieldRef != nil:
		r := e.ValueFrom.ResourceFieldRef
		var q, ok = c.Resources.Limits[corev1.ResourceName(strings.TrimPrefix(r.Resource, "limits."))]
		if !strings.HasPrefix(r.Resource, "limits.") {
			q, ok = c.Resources.Requests[corev1.ResourceName(strings.TrimPrefix(r.Resource, "requests."))]
		}
		if !ok {
			return "", fmt.Errorf("env %s: %s not set (the kubelet would use the node's allocatable)", e.Name, r.Resource)
		}
		div := int64(1)
		if !r.Divisor.IsZero() {
			div = r.Divisor.Value()
		}
		return strconv.FormatInt((q.Value()+div-1)/div, 10), nil
	}
	return "", fmt.Errorf("env %s: source %+v not supported by this generator", e.Name, e.ValueFrom)
}

// projectedFiles returns the files the kubelet would write into a projected volume (path -> content),
// given the token and the CA. Sources other than the DaemonSet's kinds fail.
func projectedFiles(v corev1.Volume, token, caCert, namespace string) (map[string]string, error) {
	if v.Projected == nil {
		return nil, fmt.Errorf("volume %s is not projected", v.Name)
	}
	files := map[string]string{}
	for _, s := range v.Projected.Sources {
		switch {
		case s.ServiceAccountToken != nil:
			files[s.ServiceAccountToken.Path] = token
		case s.ConfigMap != nil && s.ConfigMap.Name == "kube-root-ca.crt":
			for _, it := range s.ConfigMap.Items {
				if it.Key != "ca.crt" {
					return nil, fmt.Errorf("volume %s: kube-root-ca.crt has no key %s", v.Name, it.Key)
				}
				files[it.Path] = caCert
			}
		case s.DownwardAPI != nil:
			for _, it := range s.DownwardAPI.Items {
				if it.FieldRef == nil || it.FieldRef.FieldPath != "metadata.namespace" {
					return nil, fmt.Errorf("volume %s: downward API item %s not supported by this generator", v.Name, it.Path)
				}
				files[it.Path] = namespace
			}
		default:
			return nil, fmt.Errorf("volume %s: projected source %+v not supported by this generator", v.Name, s)
		}
	}
	for p := range files {
		if filepath.IsAbs(p) || strings.Contains(p, "..") {
			return nil, fmt.Errorf("volume %s: path %q", v.Name, p)
		}
	}
	return files, nil
}
