"""Provider clients: where encrypted blocks live (embedded on-disk store, Kubo RPC)."""
