"""The Conversions API stage: pure event rules (payload) and the once-per-sale sending protocol (send)."""
