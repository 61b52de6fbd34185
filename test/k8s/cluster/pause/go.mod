module vault-init/test/k8s/cluster/pause

go 1.22
