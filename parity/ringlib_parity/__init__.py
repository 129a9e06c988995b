"""ringlib's parity harness: prove that new code computes what old code computed."""
