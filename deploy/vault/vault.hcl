# Vault server configuration for `make prod-local`: one node, file storage on
# the vault-data volume, plain HTTP on 8200 for local use only (put TLS in
# front of it, or enable it here, before anything leaves the machine).
ui = true

storage "file" {
  path = "/vault/data"
}

listener "tcp" {
  address     = "0.0.0.0:8200"
  tls_disable = true
}

api_addr = "http://vault:8200"

# mlock keeps secrets out of swap, but needs the IPC_LOCK capability, which
# rootless and desktop engines often cannot grant. The local stack turns it
# off; on a production host, disable swap instead.
disable_mlock = true
