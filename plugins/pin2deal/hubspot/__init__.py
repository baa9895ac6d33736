"""The HubSpot stage: which deals to read (window, extract), typing (records) and the deletion sweep (sweep)."""
