// Command etcd is the etcd server, built from the Go module proxy for
// vault-init's Kubernetes tests (kube-apiserver stores its objects in it).
// It lives in its own module so that the product's go.mod never depends on
// it.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
