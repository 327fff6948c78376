package deploytest

import (
	"encoding/json"
	"math"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/release"
)

// somaComponent is one soma process the chart deploys.
type somaComponent struct {
	name string
	args []string
	port int32
	// addrVar is the variable the container sets to its listen address.
	addrVar, addrValue string
	autoscaled         bool
}

var somaComponents = []somaComponent{
	{name: "api", args: []string{"api"}, port: 9595, addrVar: "SOMA_API_ADDR", addrValue: ":9595", autoscaled: true},
	{name: "query", args: []string{"query"}, port: 9596, addrVar: "SOMA_QUERY_ADDR", addrValue: ":9596", autoscaled: true},
	{name: "projector", args: []string{"projector"}, port: 8001, addrVar: "CONSUMER_METRICS_PORT", addrValue: "8001"},
}

func TestChartLintsStrictly(t *testing.T) {
	for _, sc := range []scenario{scenarioDefault, scenarioProduction, scenarioProductionInlineSecrets, scenarioIngress} {
		t.Run(sc.name, func(t *testing.T) {
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = releaseNamespace
			lint.KubeVersion = kubeVersionCaps(t)
			res := lint.Run([]string{chartDir(t)}, scenarioValues(t, sc))
			for _, m := range res.Messages {
				t.Logf("lint: %s", m)
			}
			if len(res.Errors) > 0 {
				t.Errorf("helm lint --strict: %v", res.Errors)
			}
			if res.TotalChartsLinted != 1 {
				t.Errorf("linted %d charts, want 1", res.TotalChartsLinted)
			}
		})
	}
}

func TestChartRendersOnlyStrictKubernetesObjects(t *testing.T) {
	want := map[string][]string{
		// kind -> names, regular objects only
		scenarioDefault.name: {
			"ConfigMap/soma", "ConfigMap/soma-postgres-init",
			"Deployment/soma-api", "Deployment/soma-apicurio", "Deployment/soma-projector", "Deployment/soma-query",
			"PodDisruptionBudget/soma-api", "PodDisruptionBudget/soma-projector", "PodDisruptionBudget/soma-query",
			"Secret/soma", "Secret/soma-postgres",
			"Service/soma-api", "Service/soma-apicurio", "Service/soma-postgres", "Service/soma-projector",
			"Service/soma-qdrant", "Service/soma-query", "Service/soma-redis", "Service/soma-redpanda",
			"ServiceAccount/soma",
			"StatefulSet/soma-postgres", "StatefulSet/soma-qdrant", "StatefulSet/soma-redis", "StatefulSet/soma-redpanda",
		},
		scenarioProduction.name: {
			"ConfigMap/soma",
			"Deployment/soma-api", "Deployment/soma-projector", "Deployment/soma-query",
			"HorizontalPodAutoscaler/soma-api", "HorizontalPodAutoscaler/soma-query",
			"Ingress/soma",
			"PodDisruptionBudget/soma-api", "PodDisruptionBudget/soma-projector", "PodDisruptionBudget/soma-query",
			"Service/soma-api", "Service/soma-projector", "Service/soma-query",
			"ServiceAccount/soma",
		},
	}
	for _, sc := range []scenario{scenarioDefault, scenarioProduction} {
		t.Run(sc.name, func(t *testing.T) {
			rc := render(t, sc)
			var got []string
			for _, o := range rc.Objects {
				got = append(got, o.Kind+"/"+o.Name)
			}
			sort.Strings(got)
			if !slices.Equal(got, want[sc.name]) {
				t.Errorf("rendered objects:\n got %v\nwant %v", got, want[sc.name])
			}
		})
	}
}

func TestChartDeploysEachSomaProcessHardened(t *testing.T) {
	for _, sc := range []scenario{scenarioDefault, scenarioProduction, scenarioProductionInlineSecrets} {
		t.Run(sc.name, func(t *testing.T) {
			rc := render(t, sc)
			secretName := releaseName
			if sc.name == scenarioProduction.name {
				secretName = "soma-secrets"
			} else {
				find[*corev1.Secret](t, rc.Objects, "Secret", secretName)
			}
			cm := find[*corev1.ConfigMap](t, rc.Objects, "ConfigMap", releaseName)
			sa := find[*corev1.ServiceAccount](t, rc.Objects, "ServiceAccount", releaseName)
			if sa.AutomountServiceAccountToken == nil || *sa.AutomountServiceAccountToken {
				t.Errorf("ServiceAccount automounts its token")
			}
			for _, comp := range somaComponents {
				t.Run(comp.name, func(t *testing.T) {
					d := find[*appsv1.Deployment](t, rc.Objects, "Deployment", partName(comp.name))
					requireSelectorMatchesTemplate(t, d.Spec.Selector, d.Spec.Template.Labels)
					pod := d.Spec.Template.Spec
					if pod.ServiceAccountName != sa.Name {
						t.Errorf("serviceAccountName %q, want %q", pod.ServiceAccountName, sa.Name)
					}
					requirePodSecurity(t, pod.SecurityContext)
					if len(pod.Containers) != 1 {
						t.Fatalf("%d containers, want 1", len(pod.Containers))
					}
					c := pod.Containers[0]
					if !strings.HasPrefix(c.Image, "somafractalmemory/soma:") {
						t.Errorf("image %q", c.Image)
					}
					if !slices.Equal(c.Args, comp.args) {
						t.Errorf("args %v, want %v", c.Args, comp.args)
					}
					if len(c.Ports) != 1 || c.Ports[0].ContainerPort != comp.port || c.Ports[0].Name != "http" {
						t.Errorf("ports %+v, want one named http on %d", c.Ports, comp.port)
					}
					requireHTTPProbe(t, "liveness", c.LivenessProbe, "/healthz")
					requireHTTPProbe(t, "readiness", c.ReadinessProbe, "/readyz")
					requireHTTPProbe(t, "startup", c.StartupProbe, "/healthz")
					requireEnvFrom(t, c.EnvFrom, cm.Name, secretName)
					if got := envValue(c.Env, comp.addrVar); got != comp.addrValue {
						t.Errorf("%s=%q, want %q", comp.addrVar, got, comp.addrValue)
					}
					requireKnownVariables(t, "container env", envNames(c.Env))
					requireContainerSecurity(t, c.SecurityContext)
					if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
						t.Errorf("resources %+v: want cpu and memory requests and a memory limit", c.Resources)
					}
					if !hasMount(c.VolumeMounts, "/tmp") {
						t.Errorf("no writable /tmp under a read-only root filesystem")
					}
					for _, k := range []string{"checksum/config", "prometheus.io/port"} {
						if d.Spec.Template.Annotations[k] == "" {
							t.Errorf("pod annotation %s missing", k)
						}
					}
					if p := d.Spec.Template.Annotations["prometheus.io/port"]; p != itoa(comp.port) {
						t.Errorf("prometheus.io/port %q, want %d", p, comp.port)
					}
				})
			}
		})
	}
}

func TestChartServicesRouteToNamedPorts(t *testing.T) {
	for _, sc := range []scenario{scenarioDefault, scenarioProduction} {
		t.Run(sc.name, func(t *testing.T) {
			rc := render(t, sc)
			for _, comp := range somaComponents {
				svc := find[*corev1.Service](t, rc.Objects, "Service", partName(comp.name))
				if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != comp.port || svc.Spec.Ports[0].TargetPort != intstr.FromString("http") {
					t.Errorf("Service %s ports %+v, want %d -> http", svc.Name, svc.Spec.Ports, comp.port)
				}
			}
			// Every Service selects exactly one workload, and its target ports
			// exist on that workload's containers.
			for _, svc := range all[*corev1.Service](rc.Objects, "Service") {
				var matched []string
				var pods []corev1.PodTemplateSpec
				for _, d := range all[*appsv1.Deployment](rc.Objects, "Deployment") {
					if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
						matched = append(matched, d.Name)
						pods = append(pods, d.Spec.Template)
					}
				}
				for _, s := range all[*appsv1.StatefulSet](rc.Objects, "StatefulSet") {
					if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(s.Spec.Template.Labels)) {
						matched = append(matched, s.Name)
						pods = append(pods, s.Spec.Template)
					}
				}
				if len(matched) != 1 {
					t.Errorf("Service %s selects %v, want exactly one workload", svc.Name, matched)
					continue
				}
				for _, p := range svc.Spec.Ports {
					if !podHasPort(pods[0].Spec, p.TargetPort) {
						t.Errorf("Service %s targets port %s, which %s does not expose", svc.Name, p.TargetPort.String(), matched[0])
					}
				}
			}
		})
	}
}

func TestChartDisruptionBudgetsAndAutoscalers(t *testing.T) {
	t.Run("default", func(t *testing.T) {
		rc := render(t, scenarioDefault)
		if hpas := all[*autoscalingv2.HorizontalPodAutoscaler](rc.Objects, "HorizontalPodAutoscaler"); len(hpas) != 0 {
			t.Errorf("autoscalers rendered with autoscaling disabled: %d", len(hpas))
		}
		for _, comp := range somaComponents {
			d := find[*appsv1.Deployment](t, rc.Objects, "Deployment", partName(comp.name))
			if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
				t.Errorf("%s replicas %v, want 1", comp.name, d.Spec.Replicas)
			}
			pdb := find[*policyv1.PodDisruptionBudget](t, rc.Objects, "PodDisruptionBudget", partName(comp.name))
			requireSelectorMatchesTemplate(t, pdb.Spec.Selector, d.Spec.Template.Labels)
			if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
				t.Errorf("%s PDB %+v, want maxUnavailable 1 (a single replica must stay drainable)", comp.name, pdb.Spec)
			}
		}
	})
	t.Run("production", func(t *testing.T) {
		rc := render(t, scenarioProduction)
		for _, comp := range somaComponents {
			d := find[*appsv1.Deployment](t, rc.Objects, "Deployment", partName(comp.name))
			pdb := find[*policyv1.PodDisruptionBudget](t, rc.Objects, "PodDisruptionBudget", partName(comp.name))
			requireSelectorMatchesTemplate(t, pdb.Spec.Selector, d.Spec.Template.Labels)
			if pdb.Spec.MinAvailable != nil && pdb.Spec.MaxUnavailable != nil {
				t.Errorf("%s PDB sets both minAvailable and maxUnavailable", comp.name)
			}
			if !comp.autoscaled {
				if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
					t.Errorf("%s replicas %v, want 3", comp.name, d.Spec.Replicas)
				}
				continue
			}
			if d.Spec.Replicas != nil {
				t.Errorf("%s sets replicas %d although an HPA owns them", comp.name, *d.Spec.Replicas)
			}
			hpa := find[*autoscalingv2.HorizontalPodAutoscaler](t, rc.Objects, "HorizontalPodAutoscaler", partName(comp.name))
			ref := hpa.Spec.ScaleTargetRef
			if ref.APIVersion != "apps/v1" || ref.Kind != "Deployment" || ref.Name != d.Name {
				t.Errorf("%s HPA targets %+v", comp.name, ref)
			}
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas <= *hpa.Spec.MinReplicas {
				t.Errorf("%s HPA min %v max %d", comp.name, hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
			}
			if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() >= int(*hpa.Spec.MinReplicas) {
				t.Errorf("%s PDB minAvailable %v must stay below the HPA minimum %d", comp.name, pdb.Spec.MinAvailable, *hpa.Spec.MinReplicas)
			}
			if len(hpa.Spec.Metrics) == 0 || hpa.Spec.Metrics[0].Resource == nil || hpa.Spec.Metrics[0].Resource.Name != corev1.ResourceCPU {
				t.Errorf("%s HPA metrics %+v, want CPU utilisation", comp.name, hpa.Spec.Metrics)
			}
		}
	})
}

func TestChartSettingsAreSomaVariablesAndValidate(t *testing.T) {
	secretVars := secretVariables()
	for _, sc := range []scenario{scenarioDefault, scenarioProduction, scenarioProductionInlineSecrets} {
		t.Run(sc.name, func(t *testing.T) {
			rc := render(t, sc)
			cm := find[*corev1.ConfigMap](t, rc.Objects, "ConfigMap", releaseName)
			requireKnownVariables(t, "ConfigMap "+cm.Name, keys(cm.Data))
			for k := range cm.Data {
				if secretVars[k] {
					t.Errorf("ConfigMap holds %s, which may carry a credential", k)
				}
			}
			env := map[string]string{}
			for k, v := range cm.Data {
				env[k] = v
			}
			if sc.name == scenarioProduction.name {
				// The existing Secret a production install is given.
				env["POSTGRES_URL"] = "postgres://soma:pw@pg.example:5432/soma"
				env["SOMA_API_TOKEN"] = "t0ken"
			} else {
				sec := find[*corev1.Secret](t, rc.Objects, "Secret", releaseName)
				requireKnownVariables(t, "Secret "+sec.Name, keys(sec.StringData))
				for k, v := range sec.StringData {
					if !secretVars[k] {
						t.Errorf("Secret holds %s, which is not a secret variable (put it in config)", k)
					}
					env[k] = v
				}
			}
			cfg := requireValidSomaConfig(t, sc.name, env)
			if cfg.Mode != "evented_enterprise" {
				t.Errorf("MEMORY_MODE %q, want evented_enterprise", cfg.Mode)
			}
			if sc.name != scenarioDefault.name && env["SOMA_SCHEMA_AUTO_REGISTER"] != "false" {
				t.Errorf("production processes register schemas themselves (SOMA_SCHEMA_AUTO_REGISTER=%q)", env["SOMA_SCHEMA_AUTO_REGISTER"])
			}
		})
	}
}

func TestChartPointsAtInChartDependencies(t *testing.T) {
	rc := render(t, scenarioDefault)
	cm := find[*corev1.ConfigMap](t, rc.Objects, "ConfigMap", releaseName)
	sec := find[*corev1.Secret](t, rc.Objects, "Secret", releaseName)
	addrs := map[string]string{
		"KAFKA_BOOTSTRAP_SERVERS": "tcp://" + cm.Data["KAFKA_BOOTSTRAP_SERVERS"],
		"SCHEMA_REGISTRY_URL":     cm.Data["SCHEMA_REGISTRY_URL"],
		"QDRANT_URL":              cm.Data["QDRANT_URL"],
		"REDIS_URL":               sec.StringData["REDIS_URL"],
		"POSTGRES_URL":            sec.StringData["POSTGRES_URL"],
	}
	for name, raw := range addrs {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" || u.Port() == "" {
			t.Errorf("%s=%q: want scheme://service:port", name, raw)
			continue
		}
		svc := find[*corev1.Service](t, rc.Objects, "Service", u.Hostname())
		if !serviceHasPort(svc, u.Port()) {
			t.Errorf("%s=%q: Service %s has no port %s", name, raw, svc.Name, u.Port())
		}
	}
	if got := cm.Data["SCHEMA_REGISTRY_URL"]; !strings.HasSuffix(got, "/apis/ccompat/v7") {
		t.Errorf("SCHEMA_REGISTRY_URL %q: want Apicurio's Confluent-compatible API", got)
	}

	// The registry stores its schemas in the in-chart Postgres, in the
	// database the init script creates.
	reg := find[*appsv1.Deployment](t, rc.Objects, "Deployment", partName("apicurio"))
	c := reg.Spec.Template.Spec.Containers[0]
	if !strings.HasPrefix(c.Image, "apicurio/apicurio-registry:") {
		t.Errorf("registry image %q", c.Image)
	}
	if got := envValue(c.Env, "APICURIO_DATASOURCE_URL"); got != "jdbc:postgresql://soma-postgres:5432/apicurio" {
		t.Errorf("APICURIO_DATASOURCE_URL %q", got)
	}
	requireHTTPProbe(t, "registry readiness", c.ReadinessProbe, "/apis/ccompat/v7/subjects")
	initSQL := find[*corev1.ConfigMap](t, rc.Objects, "ConfigMap", partName("postgres-init"))
	if !strings.Contains(initSQL.Data["10-apicurio.sql"], "CREATE DATABASE apicurio") {
		t.Errorf("postgres init script %q does not create the registry's database", initSQL.Data)
	}

	images := map[string]string{
		"redpanda": "docker.redpanda.com/redpandadata/redpanda:",
		"postgres": "postgres:15",
		"qdrant":   "qdrant/qdrant:",
		"redis":    "redis:7",
	}
	for part, prefix := range images {
		s := find[*appsv1.StatefulSet](t, rc.Objects, "StatefulSet", partName(part))
		requireSelectorMatchesTemplate(t, s.Spec.Selector, s.Spec.Template.Labels)
		if img := s.Spec.Template.Spec.Containers[0].Image; !strings.HasPrefix(img, prefix) {
			t.Errorf("%s image %q, want %s*", part, img, prefix)
		}
		if s.Spec.Template.Spec.Containers[0].ReadinessProbe == nil {
			t.Errorf("%s has no readiness probe", part)
		}
		if len(s.Spec.VolumeClaimTemplates) != 1 {
			t.Errorf("%s: %d volume claim templates, want 1 (persistence on by default)", part, len(s.Spec.VolumeClaimTemplates))
		}
	}
}

func TestChartDependencyPersistence(t *testing.T) {
	rc := render(t, scenario{name: "persistence", set: []string{
		"postgresql.persistence.size=50Gi", "postgresql.persistence.storageClass=fast-ssd",
		"redpanda.persistence.storageClass=-",
		"redis.persistence.enabled=false",
	}})
	pg := find[*appsv1.StatefulSet](t, rc.Objects, "StatefulSet", partName("postgres"))
	claim := pg.Spec.VolumeClaimTemplates[0]
	if got := claim.Spec.Resources.Requests.Storage().String(); got != "50Gi" {
		t.Errorf("postgres claim size %s, want 50Gi", got)
	}
	if claim.Spec.StorageClassName == nil || *claim.Spec.StorageClassName != "fast-ssd" {
		t.Errorf("postgres storageClassName %v, want fast-ssd", claim.Spec.StorageClassName)
	}
	rp := find[*appsv1.StatefulSet](t, rc.Objects, "StatefulSet", partName("redpanda"))
	if sc := rp.Spec.VolumeClaimTemplates[0].Spec.StorageClassName; sc == nil || *sc != "" {
		t.Errorf(`redpanda storageClass "-" must render storageClassName "" (no dynamic provisioning), got %v`, sc)
	}
	qd := find[*appsv1.StatefulSet](t, rc.Objects, "StatefulSet", partName("qdrant"))
	if sc := qd.Spec.VolumeClaimTemplates[0].Spec.StorageClassName; sc != nil {
		t.Errorf("qdrant storageClassName %q, want unset (cluster default)", *sc)
	}
	rd := find[*appsv1.StatefulSet](t, rc.Objects, "StatefulSet", partName("redis"))
	if len(rd.Spec.VolumeClaimTemplates) != 0 {
		t.Errorf("redis with persistence off still claims a volume")
	}
	if !hasVolume(rd.Spec.Template.Spec, "data") {
		t.Errorf("redis without persistence has no data volume")
	}
}

func TestChartHooksPrepareTheLogDatabaseAndRegistry(t *testing.T) {
	script := string(readRepoFile(t, "helm/files/create-topics.sh"))
	cases := []struct {
		sc     scenario
		events []release.HookEvent
		secret string
	}{
		// External services: everything is ready before the release's pods roll.
		{scenarioProduction, []release.HookEvent{release.HookPreInstall, release.HookPreUpgrade}, "soma-secrets"},
		{scenarioProductionInlineSecrets, []release.HookEvent{release.HookPreInstall, release.HookPreUpgrade}, "soma-hook"},
		// In-chart dependencies are installed by the release itself.
		{scenarioDefault, []release.HookEvent{release.HookPostInstall, release.HookPreUpgrade}, "soma-hook"},
	}
	for _, tc := range cases {
		t.Run(tc.sc.name, func(t *testing.T) {
			rc := render(t, tc.sc)
			hookCM := find[*corev1.ConfigMap](t, rc.Hooks, "ConfigMap", "soma-hook")
			regularCM := find[*corev1.ConfigMap](t, rc.Objects, "ConfigMap", releaseName)
			if !reflect.DeepEqual(hookCM.Data, regularCM.Data) {
				t.Errorf("hook ConfigMap differs from the release's:\n%v\n%v", hookCM.Data, regularCM.Data)
			}
			scripts := find[*corev1.ConfigMap](t, rc.Hooks, "ConfigMap", partName("create-topics"))
			// (YAML may drop the final newline of the last block scalar.)
			if got := scripts.Data["create-topics.sh"]; strings.TrimRight(got, "\n") != strings.TrimRight(script, "\n") {
				t.Errorf("create-topics.sh in the chart differs from helm/files/create-topics.sh:\n%q\n%q", got, script)
			}
			configWeight := math.MinInt
			for _, h := range rc.Hooks {
				if !slices.Equal(h.Hook.Events, tc.events) {
					t.Errorf("hook %s %s runs on %v, want %v", h.Kind, h.Name, h.Hook.Events, tc.events)
				}
				if !slices.Contains(h.Hook.DeletePolicies, release.HookBeforeHookCreation) || !slices.Contains(h.Hook.DeletePolicies, release.HookSucceeded) {
					t.Errorf("hook %s %s delete policies %v", h.Kind, h.Name, h.Hook.DeletePolicies)
				}
				if h.Kind != "Job" {
					configWeight = max(configWeight, h.Hook.Weight)
				}
			}
			if tc.secret == "soma-hook" {
				sec := find[*corev1.Secret](t, rc.Hooks, "Secret", "soma-hook")
				regular := find[*corev1.Secret](t, rc.Objects, "Secret", releaseName)
				if !reflect.DeepEqual(sec.StringData, regular.StringData) {
					t.Errorf("hook Secret differs from the release's")
				}
			}

			jobs := map[string]*batchv1.Job{}
			for _, h := range rc.Hooks {
				if h.Kind != "Job" {
					continue
				}
				if h.Hook.Weight <= configWeight {
					t.Errorf("job %s (weight %d) may run before its ConfigMap and Secret (weight %d)", h.Name, h.Hook.Weight, configWeight)
				}
				jobs[h.Name] = h.Obj.(*batchv1.Job)
			}
			wantJobs := []string{partName("create-topics"), partName("migrate"), partName("register-schemas")}
			if got := keys(jobs); !slices.Equal(got, wantJobs) {
				t.Fatalf("hook jobs %v, want %v", got, wantJobs)
			}
			for name, job := range jobs {
				pod := job.Spec.Template.Spec
				if pod.RestartPolicy != corev1.RestartPolicyOnFailure && pod.RestartPolicy != corev1.RestartPolicyNever {
					t.Errorf("%s restartPolicy %q", name, pod.RestartPolicy)
				}
				if pod.ServiceAccountName != "" {
					t.Errorf("%s uses ServiceAccount %q, which a pre-install hook cannot rely on", name, pod.ServiceAccountName)
				}
				if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit < 1 || job.Spec.ActiveDeadlineSeconds == nil {
					t.Errorf("%s: want a backoff limit and a deadline", name)
				}
				if pod.SecurityContext == nil || pod.SecurityContext.RunAsNonRoot == nil || !*pod.SecurityContext.RunAsNonRoot {
					t.Errorf("%s may run as root", name)
				}
				c := pod.Containers[0]
				requireEnvFrom(t, c.EnvFrom, "soma-hook", tc.secret)
				if c.SecurityContext == nil || c.SecurityContext.ReadOnlyRootFilesystem == nil || !*c.SecurityContext.ReadOnlyRootFilesystem {
					t.Errorf("%s: root filesystem writable", name)
				}
			}
			topics := jobs[partName("create-topics")].Spec.Template.Spec
			if img := topics.Containers[0].Image; !strings.HasPrefix(img, "docker.redpanda.com/redpandadata/redpanda:") {
				t.Errorf("topics job image %q, want the Redpanda image (rpk)", img)
			}
			if cmd := strings.Join(topics.Containers[0].Command, " "); cmd != "/bin/bash /scripts/create-topics.sh" {
				t.Errorf("topics job command %q", cmd)
			}
			if !mountsConfigMap(topics, "/scripts", partName("create-topics")) {
				t.Errorf("topics job does not mount the script ConfigMap at /scripts")
			}
			if args := jobs[partName("migrate")].Spec.Template.Spec.Containers[0].Args; !slices.Equal(args, []string{"migrate"}) {
				t.Errorf("migrate job args %v", args)
			}
			if args := jobs[partName("register-schemas")].Spec.Template.Spec.Containers[0].Args; !slices.Equal(args, []string{"schemas", "register"}) {
				t.Errorf("schemas job args %v", args)
			}
			// Topics and migrations before the schemas are registered, in
			// weight order (helm runs hooks of one event sequentially).
			weights := map[string]int{}
			for _, h := range rc.Hooks {
				weights[h.Name+"/"+h.Kind] = h.Hook.Weight
			}
			if !(weights[partName("create-topics")+"/Job"] < weights[partName("register-schemas")+"/Job"] &&
				weights[partName("migrate")+"/Job"] < weights[partName("register-schemas")+"/Job"]) {
				t.Errorf("hook weights %v: topics and migrations must come before schema registration", weights)
			}
		})
	}
}

func TestChartIngressRoutesCommandsAndQueries(t *testing.T) {
	rc := render(t, scenarioIngress)
	ing := find[*networkingv1.Ingress](t, rc.Objects, "Ingress", releaseName)
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "memory.example.com" || ing.Spec.Rules[0].HTTP == nil {
		t.Fatalf("rules %+v, want one rule for memory.example.com", ing.Spec.Rules)
	}
	routes := map[string]networkingv1.IngressServiceBackend{}
	for _, p := range ing.Spec.Rules[0].HTTP.Paths {
		if p.Backend.Service == nil {
			t.Errorf("path %s has no service backend", p.Path)
			continue
		}
		want := networkingv1.PathTypeExact
		if p.Path == "/" {
			want = networkingv1.PathTypePrefix
		}
		if p.PathType == nil || *p.PathType != want {
			t.Errorf("path %s type %v, want %s", p.Path, p.PathType, want)
		}
		if _, dup := routes[p.Path]; dup {
			t.Errorf("path %s routed twice", p.Path)
		}
		routes[p.Path] = *p.Backend.Service
		svc := find[*corev1.Service](t, rc.Objects, "Service", p.Backend.Service.Name)
		if !serviceHasPort(svc, itoa(p.Backend.Service.Port.Number)) {
			t.Errorf("path %s -> %s:%d: no such service port", p.Path, svc.Name, p.Backend.Service.Port.Number)
		}
	}
	// The routes each API documents (its OpenAPI) go to that API.
	expect := map[string]networkingv1.IngressServiceBackend{"/": {Name: partName("query"), Port: networkingv1.ServiceBackendPort{Number: 9596}}}
	for _, p := range openAPIPaths(t, "commands/httpapi/openapi.json") {
		expect[p] = networkingv1.IngressServiceBackend{Name: partName("api"), Port: networkingv1.ServiceBackendPort{Number: 9595}}
	}
	for _, p := range openAPIPaths(t, "queries/httpapi/openapi.json") {
		expect[p] = networkingv1.IngressServiceBackend{Name: partName("query"), Port: networkingv1.ServiceBackendPort{Number: 9596}}
	}
	if !reflect.DeepEqual(routes, expect) {
		for p, b := range expect {
			if routes[p] != b {
				t.Errorf("path %s -> %+v, want %+v", p, routes[p], b)
			}
		}
		for p := range routes {
			if _, ok := expect[p]; !ok {
				t.Errorf("path %s is routed but no API documents it", p)
			}
		}
	}
}

func TestChartRefusesConfigurationsSomaWouldRefuse(t *testing.T) {
	prod := []string{"values-production.yaml"}
	cases := []struct {
		name string
		sc   scenario
		want string
	}{
		{"credential_in_config", scenario{set: []string{"config.REDIS_URL=redis://:pw@redis:6379/0"}}, "config.REDIS_URL may hold a credential"},
		{"token_in_config", scenario{set: []string{"config.SOMA_API_TOKEN=x"}}, "config.SOMA_API_TOKEN may hold a credential"},
		{"evented_without_kafka", scenario{valueFiles: prod, set: []string{"config.KAFKA_BOOTSTRAP_SERVERS="}}, "config.KAFKA_BOOTSTRAP_SERVERS is required"},
		{"evented_without_registry", scenario{valueFiles: prod, set: []string{"config.SCHEMA_REGISTRY_URL="}}, "config.SCHEMA_REGISTRY_URL is required"},
		{"evented_without_qdrant", scenario{valueFiles: prod, set: []string{"config.QDRANT_URL="}}, "QDRANT_URL or config.QDRANT_HOST is required"},
		{"evented_without_postgres", scenario{valueFiles: prod, set: []string{"secrets.existingSecret="}}, "secrets.values.POSTGRES_URL"},
		{"evented_without_redis", scenario{valueFiles: prod, set: []string{"secrets.existingSecret=", "secrets.values.POSTGRES_URL=postgres://x/y", "config.REDIS_HOST="}}, "secrets.values.REDIS_URL or config.REDIS_HOST"},
		{"registry_without_storage", scenario{set: []string{"postgresql.enabled=false", "secrets.values.POSTGRES_URL=postgres://x/y"}}, "apicurio.datasource.url is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.sc.name = tc.name
			_, err := renderScenario(t, tc.sc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// --- helpers -----------------------------------------------------------------

func requireSelectorMatchesTemplate(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) {
	t.Helper()
	if sel == nil || len(sel.MatchLabels) == 0 {
		t.Errorf("empty selector")
		return
	}
	if !labels.SelectorFromSet(sel.MatchLabels).Matches(labels.Set(podLabels)) {
		t.Errorf("selector %v does not match pod labels %v", sel.MatchLabels, podLabels)
	}
}

func requirePodSecurity(t *testing.T, sc *corev1.PodSecurityContext) {
	t.Helper()
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and user 65532", sc)
	}
	if sc != nil && (sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault) {
		t.Errorf("pod seccomp profile %+v, want RuntimeDefault", sc.SeccompProfile)
	}
}

func requireContainerSecurity(t *testing.T, sc *corev1.SecurityContext) {
	t.Helper()
	if sc == nil {
		t.Errorf("no container securityContext")
		return
	}
	if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
		t.Errorf("container may run as root")
	}
	if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("root filesystem writable")
	}
	if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("privilege escalation allowed")
	}
	if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
		t.Errorf("capabilities %+v, want drop ALL and add none", sc.Capabilities)
	}
}

func requireHTTPProbe(t *testing.T, what string, p *corev1.Probe, path string) {
	t.Helper()
	if p == nil || p.HTTPGet == nil {
		t.Errorf("%s probe %+v: want an HTTP GET of %s", what, p, path)
		return
	}
	if p.HTTPGet.Path != path {
		t.Errorf("%s probe path %q, want %q", what, p.HTTPGet.Path, path)
	}
	if p.HTTPGet.Port.Type == intstr.String && p.HTTPGet.Port.StrVal == "" {
		t.Errorf("%s probe without port", what)
	}
}

func requireEnvFrom(t *testing.T, from []corev1.EnvFromSource, configMap, secret string) {
	t.Helper()
	var cms, secs []string
	for _, f := range from {
		if f.ConfigMapRef != nil {
			cms = append(cms, f.ConfigMapRef.Name)
			if f.ConfigMapRef.Optional != nil && *f.ConfigMapRef.Optional {
				t.Errorf("ConfigMap %s is optional", f.ConfigMapRef.Name)
			}
		}
		if f.SecretRef != nil {
			secs = append(secs, f.SecretRef.Name)
		}
	}
	if !slices.Equal(cms, []string{configMap}) || !slices.Equal(secs, []string{secret}) {
		t.Errorf("envFrom ConfigMaps %v Secrets %v, want [%s] [%s]", cms, secs, configMap, secret)
	}
}

func envValue(env []corev1.EnvVar, name string) string {
	for _, e := range env {
		if e.Name == name {
			return e.Value
		}
	}
	return ""
}

func envNames(env []corev1.EnvVar) []string {
	var out []string
	for _, e := range env {
		out = append(out, e.Name)
	}
	return out
}

func hasMount(ms []corev1.VolumeMount, path string) bool {
	for _, m := range ms {
		if m.MountPath == path && !m.ReadOnly {
			return true
		}
	}
	return false
}

func hasVolume(pod corev1.PodSpec, name string) bool {
	for _, v := range pod.Volumes {
		if v.Name == name {
			return true
		}
	}
	return false
}

func mountsConfigMap(pod corev1.PodSpec, path, configMap string) bool {
	for _, m := range pod.Containers[0].VolumeMounts {
		if m.MountPath != path {
			continue
		}
		for _, v := range pod.Volumes {
			if v.Name == m.Name && v.ConfigMap != nil && v.ConfigMap.Name == configMap {
				return true
			}
		}
	}
	return false
}

func podHasPort(pod corev1.PodSpec, port intstr.IntOrString) bool {
	for _, c := range pod.Containers {
		for _, p := range c.Ports {
			if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
				return true
			}
		}
	}
	return false
}

func serviceHasPort(svc *corev1.Service, port string) bool {
	for _, p := range svc.Spec.Ports {
		if itoa(p.Port) == port {
			return true
		}
	}
	return false
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

// openAPIPaths lists the paths an embedded OpenAPI document declares.
func openAPIPaths(t *testing.T, rel string) []string {
	t.Helper()
	var doc struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(readRepoFile(t, rel), &doc); err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if len(doc.Paths) == 0 {
		t.Fatalf("%s declares no path", rel)
	}
	return keys(doc.Paths)
}
