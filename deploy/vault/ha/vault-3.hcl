# Node 3 of the three-node Raft cluster of docker-compose.ha.yml. Every node
# lists the others in retry_join: a node joins whichever is initialized, and
# only one is ever initialized (by vault-init). Plain HTTP: local use only.
ui = true

storage "raft" {
  path    = "/vault/data"
  node_id = "vault-3"
  retry_join {
    leader_api_addr = "http://vault-1:8200"
  }
  retry_join {
    leader_api_addr = "http://vault-2:8200"
  }
}

listener "tcp" {
  address         = "0.0.0.0:8200"
  cluster_address = "0.0.0.0:8201"
  tls_disable     = true
}

api_addr     = "http://vault-3:8200"
cluster_addr = "http://vault-3:8201"

# Vault recommends disable_mlock with integrated (Raft) storage.
disable_mlock = true
