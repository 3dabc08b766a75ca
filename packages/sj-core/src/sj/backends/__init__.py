"""Multi-step backends: the contract, the registry and the built-in torch reference."""
