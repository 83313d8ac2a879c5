"""What only this project's own tests need (browser boot, fault injection, the
malicious-gateway proxy, linking both sides of a device link in one process)."""
