package k8sstore

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// namespaceFile is where a pod finds its own namespace.
var namespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

// RESTConfig returns the client configuration to reach the API server: the
// pod's service account when running in a cluster (rest.InClusterConfig),
// else the current context of $KUBECONFIG (or ~/.kube/config), as kubectl
// finds it.
func RESTConfig() (*rest.Config, error) {
	cfg, err := rest.InClusterConfig()
	if err == nil {
		return cfg, nil
	}
	if !errors.Is(err, rest.ErrNotInCluster) {
		return nil, fmt.Errorf("in-cluster config: %w", err)
	}
	cfg, err = kubeconfig().ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig (not running in a cluster, so $KUBECONFIG or ~/.kube/config): %w", err)
	}
	return cfg, nil
}

// DefaultNamespace is the namespace to keep the Secret in when none is
// configured: the pod's own in a cluster, else the namespace of the
// kubeconfig's current context, else "default".
func DefaultNamespace() string {
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		if raw, err := os.ReadFile(namespaceFile); err == nil {
			if ns := strings.TrimSpace(string(raw)); ns != "" {
				return ns
			}
		}
	}
	if ns, _, err := kubeconfig().Namespace(); err == nil && ns != "" {
		return ns
	}
	return "default"
}

func kubeconfig() clientcmd.ClientConfig {
	return clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{})
}

// object is the part of a core/v1 Secret that this package reads and
// writes: all of it (stringData is write-only and never returned). It
// stands in for k8s.io/api/core/v1, whose typed client registers every API
// group's types and would add 16 MB to the binary, and whose types alone
// add 3 MB, for this one kind.
type object struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Immutable         *bool             `json:"immutable,omitempty"`
	Data              map[string][]byte `json:"data,omitempty"`
	Type              string            `json:"type,omitempty"`
}

// DeepCopyObject makes object a runtime.Object.
func (o *object) DeepCopyObject() runtime.Object { return o.deepCopy() }

func (o *object) deepCopy() *object {
	c := *o
	o.ObjectMeta.DeepCopyInto(&c.ObjectMeta)
	if o.Immutable != nil {
		v := *o.Immutable
		c.Immutable = &v
	}
	if o.Data != nil {
		c.Data = maps.Clone(o.Data)
		for k, v := range c.Data {
			c.Data[k] = bytes.Clone(v)
		}
	}
	return &c
}

// restClient returns a client of the core/v1 API for cfg that knows the
// Secret (object) and the meta types (Status, options), speaking JSON.
func restClient(cfg *rest.Config) (*rest.RESTClient, error) {
	gv := schema.GroupVersion{Version: "v1"}
	scheme := runtime.NewScheme()
	scheme.AddKnownTypeWithName(gv.WithKind("Secret"), &object{})
	metav1.AddToGroupVersion(scheme, gv)
	c := rest.CopyConfig(cfg)
	c.GroupVersion = &gv
	c.APIPath = "/api"
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	c.ContentType = runtime.ContentTypeJSON
	c.AcceptContentTypes = runtime.ContentTypeJSON
	if c.UserAgent == "" {
		c.UserAgent = "vault-init"
	}
	if c.Timeout <= 0 || c.Timeout > CallTimeout {
		c.Timeout = CallTimeout
	}
	return rest.RESTClientFor(c)
}
