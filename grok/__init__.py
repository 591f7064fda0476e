"""grok-explorer: train, analyse and explore a one-layer transformer that groks (x + y) mod p."""
