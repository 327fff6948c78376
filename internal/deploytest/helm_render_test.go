package deploytest

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/cli/values"
	"helm.sh/helm/v3/pkg/getter"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/releaseutil"
)

const (
	releaseName      = "soma"
	releaseNamespace = "memory"
	// kubeVersion is the cluster version the chart is rendered and linted
	// for; the chart requires >= 1.25.
	kubeVersion = "v1.30.0"
)

// scenario is a set of values, given the way `helm install` takes them.
type scenario struct {
	name       string
	valueFiles []string // relative to helm/
	set        []string // --set
}

var (
	scenarioDefault    = scenario{name: "default"}
	scenarioProduction = scenario{name: "production", valueFiles: []string{"values-production.yaml"}}
	// Production with a chart-made Secret instead of an existing one.
	scenarioProductionInlineSecrets = scenario{name: "production-inline-secrets", valueFiles: []string{"values-production.yaml"}, set: []string{
		"secrets.existingSecret=",
		"secrets.values.POSTGRES_URL=postgres://soma:pw@pg.example:5432/soma",
		"secrets.values.SOMA_API_TOKEN=t0ken",
	}}
	scenarioIngress = scenario{name: "ingress", set: []string{"ingress.enabled=true", "ingress.host=memory.example.com"}}
)

// k8sObject is one rendered manifest decoded strictly into its API type.
type k8sObject struct {
	Kind   string
	Name   string
	Source string // template path
	Obj    any    // *appsv1.Deployment, *corev1.Service, ...
	Hook   *release.Hook
}

type renderedChart struct {
	Objects []k8sObject // regular release objects
	Hooks   []k8sObject // hook objects
}

// strictTypes maps apiVersion/kind to the type a manifest must decode into.
// A kind outside this list is a test failure: extend the list deliberately.
var strictTypes = map[string]func() any{
	"v1/ConfigMap":                           func() any { return &corev1.ConfigMap{} },
	"v1/Secret":                              func() any { return &corev1.Secret{} },
	"v1/Service":                             func() any { return &corev1.Service{} },
	"v1/ServiceAccount":                      func() any { return &corev1.ServiceAccount{} },
	"apps/v1/Deployment":                     func() any { return &appsv1.Deployment{} },
	"apps/v1/StatefulSet":                    func() any { return &appsv1.StatefulSet{} },
	"batch/v1/Job":                           func() any { return &batchv1.Job{} },
	"policy/v1/PodDisruptionBudget":          func() any { return &policyv1.PodDisruptionBudget{} },
	"autoscaling/v2/HorizontalPodAutoscaler": func() any { return &autoscalingv2.HorizontalPodAutoscaler{} },
	"networking.k8s.io/v1/Ingress":           func() any { return &networkingv1.Ingress{} },
}

func chartDir(t *testing.T) string { return filepath.Join(repoRoot(t), "helm") }

var (
	chartOnce sync.Once
	chartVal  *chart.Chart
	chartErr  error
)

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	chartOnce.Do(func() { chartVal, chartErr = loader.Load(chartDir(t)) })
	if chartErr != nil {
		t.Fatalf("load chart: %v", chartErr)
	}
	return chartVal
}

// scenarioValues merges the scenario's files and --set values as the helm
// CLI does (the chart's values.yaml is coalesced underneath at render time).
func scenarioValues(t *testing.T, sc scenario) map[string]any {
	t.Helper()
	opts := values.Options{Values: sc.set}
	for _, f := range sc.valueFiles {
		opts.ValueFiles = append(opts.ValueFiles, filepath.Join(chartDir(t), f))
	}
	vals, err := opts.MergeValues(getter.Providers{})
	if err != nil {
		t.Fatalf("%s: values: %v", sc.name, err)
	}
	return vals
}

func kubeVersionCaps(t *testing.T) *chartutil.KubeVersion {
	t.Helper()
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	return kv
}

// renderScenario renders the chart like `helm install --dry-run` without a
// cluster (client-only), returning the render error as is.
func renderScenario(t *testing.T, sc scenario) (*release.Release, error) {
	t.Helper()
	install := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	install.DryRun = true
	install.ClientOnly = true
	install.Replace = true
	install.ReleaseName = releaseName
	install.Namespace = releaseNamespace
	install.KubeVersion = kubeVersionCaps(t)
	return install.Run(loadChart(t), scenarioValues(t, sc))
}

var (
	renderMu    sync.Mutex
	renderCache = map[string]*renderedChart{}
)

// render renders a scenario and decodes every manifest strictly; it fails the
// test on any render or decoding error. Results are cached per scenario.
func render(t *testing.T, sc scenario) *renderedChart {
	t.Helper()
	renderMu.Lock()
	defer renderMu.Unlock()
	if rc, ok := renderCache[sc.name]; ok {
		return rc
	}
	rel, err := renderScenario(t, sc)
	if err != nil {
		t.Fatalf("%s: render: %v", sc.name, err)
	}
	rc := &renderedChart{}
	for _, doc := range releaseutil.SplitManifests(rel.Manifest) {
		if o, ok := decodeStrict(t, sc.name, doc); ok {
			rc.Objects = append(rc.Objects, o)
		}
	}
	for _, h := range rel.Hooks {
		o, ok := decodeStrict(t, sc.name, h.Manifest)
		if !ok {
			continue
		}
		o.Hook = h
		rc.Hooks = append(rc.Hooks, o)
	}
	sort.Slice(rc.Objects, func(i, j int) bool {
		return rc.Objects[i].Kind+rc.Objects[i].Name < rc.Objects[j].Kind+rc.Objects[j].Name
	})
	if t.Failed() {
		t.FailNow()
	}
	renderCache[sc.name] = rc
	return rc
}

// decodeStrict decodes one manifest into its API type, refusing unknown and
// duplicate fields.
func decodeStrict(t *testing.T, where, doc string) (k8sObject, bool) {
	t.Helper()
	source := ""
	if first, _, ok := strings.Cut(strings.TrimSpace(doc), "\n"); ok && strings.HasPrefix(first, "# Source: ") {
		source = strings.TrimPrefix(first, "# Source: ")
	}
	var tm metav1.TypeMeta
	if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
		t.Errorf("%s: %s: not YAML: %v", where, source, err)
		return k8sObject{}, false
	}
	if tm.Kind == "" {
		if strings.TrimSpace(stripComments(doc)) != "" {
			t.Errorf("%s: %s: manifest without kind:\n%s", where, source, doc)
		}
		return k8sObject{}, false
	}
	newObj, ok := strictTypes[tm.APIVersion+"/"+tm.Kind]
	if !ok {
		t.Errorf("%s: %s: unexpected %s %s (add it to strictTypes deliberately)", where, source, tm.APIVersion, tm.Kind)
		return k8sObject{}, false
	}
	obj := newObj()
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
		t.Errorf("%s: %s: %s does not decode strictly: %v\n%s", where, source, tm.Kind, err, doc)
		return k8sObject{}, false
	}
	meta := obj.(metav1.Object)
	if errs := validation.IsDNS1123Subdomain(meta.GetName()); len(errs) > 0 {
		t.Errorf("%s: %s: %s name %q: %v", where, source, tm.Kind, meta.GetName(), errs)
	}
	if tm.Kind == "Service" || tm.Kind == "StatefulSet" || tm.Kind == "Deployment" {
		if errs := validation.IsDNS1035Label(meta.GetName()); len(errs) > 0 {
			t.Errorf("%s: %s: %s name %q: %v", where, source, tm.Kind, meta.GetName(), errs)
		}
	}
	return k8sObject{Kind: tm.Kind, Name: meta.GetName(), Source: source, Obj: obj}, true
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, line := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// find returns the typed object of a kind and name, or fails.
func find[T any](t *testing.T, objs []k8sObject, kind, name string) T {
	t.Helper()
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			return o.Obj.(T)
		}
	}
	var names []string
	for _, o := range objs {
		if o.Kind == kind {
			names = append(names, o.Name)
		}
	}
	t.Fatalf("no %s %q rendered (have %v)", kind, name, names)
	var zero T
	return zero
}

// all returns every object of a kind.
func all[T any](objs []k8sObject, kind string) []T {
	var out []T
	for _, o := range objs {
		if o.Kind == kind {
			out = append(out, o.Obj.(T))
		}
	}
	return out
}

func partName(part string) string { return fmt.Sprintf("%s-%s", releaseName, part) }
