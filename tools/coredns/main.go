// Command coredns is the test cluster's DNS (scripts/k8s-cluster.sh): CoreDNS
// with only the plugins its Corefile (test/k8s/cluster/Corefile) uses, built
// by `make k8s-node-bins` into bin/coredns-VERSION. CoreDNS's own command
// links every plugin it ships (cloud DNS providers with their SDKs): about
// 1.6 GB of modules and 7 minutes cold on 2 cores, for three plugins.
// CoreDNS documents this way of building it with a chosen set of plugins.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func init() {
	// The order in which the plugins handle a query: CoreDNS's own
	// (plugin.cfg) for these three.
	dnsserver.Directives = []string{"bind", "errors", "kubernetes"}
}

func main() { coremain.Run() }
