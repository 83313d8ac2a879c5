"""Clients a runtime uses to reach MeshKit services (the gateway)."""
