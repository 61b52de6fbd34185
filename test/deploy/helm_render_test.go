package deploy

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/releaseutil"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// The chart, the release it is rendered as, and the Kubernetes version it is
// rendered for (the test kube-apiserver's, bin/k8s-1.34.3).
var (
	chartDir    = filepath.Join(repo, "deploy", "helm", "vault-init")
	kubeVersion = chartutil.KubeVersion{Version: "v1.34.3", Major: "1", Minor: "34"}
)

const (
	releaseName = "aurora"
	releaseNS   = "vault-ns"
	// An age recipient (only its form matters to the chart).
	testRecipient = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
)

// valueSet is a set of values the chart is rendered and checked with.
type valueSet struct {
	name string
	vals map[string]any
}

// valueSets: the defaults; the production-like set of the task (age on,
// five replicas, the app token); TLS on.
var valueSets = []valueSet{
	{"defaults", nil},
	{"age-5-replicas-app-token", map[string]any{
		"replicas":  5,
		"age":       map[string]any{"enabled": true, "recipient": testRecipient},
		"vaultInit": map[string]any{"appToken": true},
	}},
	{"tls", map[string]any{"tls": map[string]any{"secretName": "vault-tls"}}},
}

// object is one rendered Kubernetes object: its template, its generic form
// and its typed form (decoded strictly).
type object struct {
	source string
	raw    map[string]any
	typed  runtime.Object
}

func (o object) kind() string { s, _ := o.raw["kind"].(string); return s }

func (o object) name() string {
	md, _ := o.raw["metadata"].(map[string]any)
	s, _ := md["name"].(string)
	return s
}

// rendering is what `helm template` would print: the objects and NOTES.txt.
type rendering struct {
	objects []object
	notes   string
}

// renderChart renders the chart at dir as `helm template` does (a client-only
// dry-run install, which also checks the chart's kubeVersion).
func renderChart(t *testing.T, dir, release, namespace string, vals map[string]any) (rendering, error) {
	t.Helper()
	chrt, err := loader.Load(dir)
	if err != nil {
		t.Fatalf("load chart %s: %v", dir, err)
	}
	cfg := &action.Configuration{Log: t.Logf}
	inst := action.NewInstall(cfg)
	inst.DryRun, inst.ClientOnly, inst.Replace = true, true, true
	inst.ReleaseName, inst.Namespace = release, namespace
	kv := kubeVersion
	inst.KubeVersion = &kv
	if vals == nil {
		vals = map[string]any{}
	}
	rel, err := inst.Run(chrt, vals)
	if err != nil {
		return rendering{}, err
	}
	objs, err := parseManifest(rel.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	return rendering{objects: objs, notes: rel.Info.Notes}, nil
}

// mustRender renders the chart with vals and fails the test on an error.
func mustRender(t *testing.T, vals map[string]any) rendering {
	t.Helper()
	r, err := renderChart(t, chartDir, releaseName, releaseNS, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return r
}

// strictDecoder decodes YAML into the API's Go types and fails on unknown or
// duplicate fields, as `kubectl apply --validate=strict` would.
var strictDecoder = json.NewSerializerWithOptions(json.DefaultMetaFactory, scheme.Scheme, scheme.Scheme,
	json.SerializerOptions{Yaml: true, Strict: true})

// parseManifest splits a rendered manifest into objects, in a stable order.
func parseManifest(manifest string) ([]object, error) {
	docs := releaseutil.SplitManifests(manifest)
	keys := make([]string, 0, len(docs))
	for k := range docs {
		keys = append(keys, k)
	}
	sort.Sort(releaseutil.BySplitManifestsOrder(keys))
	var objs []object
	for _, k := range keys {
		doc := docs[k]
		source := "?"
		if i := strings.Index(doc, "# Source: "); i >= 0 {
			source = strings.TrimSpace(strings.SplitN(doc[i+len("# Source: "):], "\n", 2)[0])
		}
		var raw map[string]any
		if err := yaml.Unmarshal([]byte(doc), &raw); err != nil {
			return nil, fmt.Errorf("%s: not YAML: %w", source, err)
		}
		if raw == nil {
			continue // a template that rendered nothing
		}
		typed, _, err := strictDecoder.Decode([]byte(doc), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		objs = append(objs, object{source: source, raw: raw, typed: typed})
	}
	return objs, nil
}

// only returns the single object of type T, failing unless there is exactly one.
func only[T runtime.Object](t *testing.T, r rendering) T {
	t.Helper()
	var found []T
	for _, o := range r.objects {
		if v, ok := o.typed.(T); ok {
			found = append(found, v)
		}
	}
	if len(found) != 1 {
		var zero T
		t.Fatalf("%d objects of type %T rendered, want 1", len(found), zero)
	}
	return found[0]
}

// all returns every object of type T.
func all[T runtime.Object](r rendering) []T {
	var found []T
	for _, o := range r.objects {
		if v, ok := o.typed.(T); ok {
			found = append(found, v)
		}
	}
	return found
}

// forEachValueSet runs f as a subtest for each of valueSets.
func forEachValueSet(t *testing.T, f func(t *testing.T, vs valueSet, r rendering)) {
	for _, vs := range valueSets {
		t.Run(vs.name, func(t *testing.T) {
			f(t, vs, mustRender(t, vs.vals))
		})
	}
}
