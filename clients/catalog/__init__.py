"""One module per client, named as the client is; `clients.REGISTRY` lists them."""
