"""The Conversions API stage: pure event rules (payload), the once-per-sale sending protocol (send), and Pinterest's
Event Quality Score of what was sent (quality)."""
