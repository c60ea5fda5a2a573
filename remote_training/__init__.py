"""Core of remote-training: no Invoke imports here, so every piece is unit-testable."""
