"""What requests cost and the ledger that records them without losing any."""
